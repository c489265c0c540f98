"""Import and export pages. The forms here only parse what these pages post; the work
is in contacts.imports and contacts.exports."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from contacts import exports, imports
from contacts.models import ContactList, CustomField, ExportJob, ImportJob, JobStatus, Segment
from smsworks.permissions import can, require

CONSENT_SUGGESTIONS = [
    "Web sign-up form",
    "Paper form",
    "In store",
    "At an event",
    "Existing customers",
]


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or Excel file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )


class MappingForm(forms.Form):
    has_header = forms.BooleanField(required=False, label="The first row holds column names")
    lists = forms.ModelMultipleChoiceField(
        ContactList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Add everyone in the file to these lists",
    )
    on_existing = forms.ChoiceField(
        choices=ImportJob.OnExisting.choices,
        initial=ImportJob.OnExisting.UPDATE,
        widget=forms.RadioSelect,
        label="Numbers that are already contacts",
        help_text="Updating fills in the file's non-empty cells. An opt-out is never lifted.",
    )
    consent_source = forms.CharField(
        max_length=100,
        required=False,
        label="Where did these people agree to get texts?",
        help_text="Recorded on the consent ledger for each new contact. Leave it empty if you "
        "have no record of their consent.",
        widget=forms.TextInput(attrs={"list": "consent-suggestions"}),
    )

    def __init__(self, *args, columns: int, custom_fields: list[CustomField], rows: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns, self.rows = columns, rows
        choices = imports.field_choices(custom_fields)
        for index in range(columns):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=choices, required=False, label=f"Column {index + 1}"
            )
            self.fields[f"col_{index}"].widget.attrs["class"] = "form-select form-select-sm"

    def clean(self):
        cleaned = super().clean()
        chosen = [v for i in range(self.columns) if (v := cleaned.get(f"col_{i}"))]
        if "phone" not in chosen:
            raise forms.ValidationError("Choose the column that holds the phone numbers.")
        twice = sorted({v for v in chosen if chosen.count(v) > 1})
        if twice:
            labels = dict(self.fields["col_0"].choices)
            raise forms.ValidationError(
                "Each field can come from one column only: "
                + ", ".join(str(labels[v]) for v in twice)
                + "."
            )
        if self.rows - (1 if cleaned.get("has_header") else 0) <= 0:
            raise forms.ValidationError("The file has no rows of contacts below the column names.")
        return cleaned

    def mapping(self) -> dict[str, str]:
        return {str(i): v for i in range(self.columns) if (v := self.cleaned_data[f"col_{i}"])}


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def import_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.import_create(upload=form.cleaned_data["file"], user=request.user)
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("contacts:import_map", pk=job.pk)
    jobs = ImportJob.objects.exclude(mapping={}).select_related("created_by").order_by("-pk")
    return render(
        request,
        "contacts/import_upload.html",
        {"form": form, "jobs": jobs[:10], "max_mb": imports.max_upload_bytes() // 1_048_576},
    )


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def import_map(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)
    if job.mapping:
        return redirect("contacts:import_detail", pk=job.pk)
    try:
        sample = imports.read_preview(job)
    except (OSError, imports.ImportFileError):
        sample = []
    if not sample:
        flash.error(request, "The uploaded file can no longer be read. Upload it again.")
        return redirect("contacts:import_upload")
    custom_fields = list(CustomField.objects.all())
    width = max(len(row) for row in sample)
    has_header = bool(job.file_info.get("has_header"))
    guesses = imports.guess_mapping(
        sample[0] if has_header else [], custom_fields, sample[1 if has_header else 0 :]
    )
    form = MappingForm(
        request.POST or None,
        columns=width,
        custom_fields=custom_fields,
        rows=int(job.file_info.get("rows", 0)),
        initial={"has_header": has_header, **{f"col_{i}": v for i, v in guesses.items()}},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        imports.import_start(
            job=job,
            mapping=form.mapping(),
            has_header=data["has_header"],
            list_ids=[lst.pk for lst in data["lists"]],
            on_existing=data["on_existing"],
            consent_source=data["consent_source"],
        )
        return redirect("contacts:import_detail", pk=job.pk)
    header = sample[0] if has_header else []
    columns = [
        (header[i] if i < len(header) and header[i] else f"Column {i + 1}", form[f"col_{i}"])
        for i in range(width)
    ]
    context = {
        "job": job,
        "form": form,
        "columns": columns,
        "rows": [row + [""] * (width - len(row)) for row in sample[1 if has_header else 0 :]],
        "suggestions": CONSENT_SUGGESTIONS,
        "region": settings.PHONE_DEFAULT_REGION,
    }
    return render(request, "contacts/import_map.html", context)


def _import_context(job: ImportJob) -> dict:
    imports.import_fail_if_stale(job)
    running = job.status in (JobStatus.PENDING, JobStatus.RUNNING)
    total = max(job.rows_total, job.rows_done, 1)
    waited = (timezone.now() - job.created_at).total_seconds()
    took = job.finished_at - job.started_at if job.finished_at and job.started_at else None
    return {
        "job": job,
        "running": running,
        "percent": min(99, job.rows_done * 100 // total) if running else 100,
        "no_worker": job.status == JobStatus.PENDING and waited > 30,
        "seconds": took.total_seconds() if took else None,
        "rejected": job.invalid + job.duplicate,
        "summary": [
            ("Created", job.created, "created", "new contacts"),
            ("Updated", job.updated, "updated", "existing contacts changed"),
            ("Unchanged", job.unchanged, "unchanged", "already up to date or skipped"),
            ("Invalid", job.invalid, "invalid", "rows rejected"),
            ("Duplicates", job.duplicate, "duplicate", "numbers repeated in the file"),
        ],
    }


@require("contacts_manage")
def import_detail(request, pk: int):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if not job.mapping:
        return redirect("contacts:import_map", pk=job.pk)
    lists = ContactList.objects.filter(pk__in=job.list_ids)
    return render(request, "contacts/import_detail.html", {**_import_context(job), "lists": lists})


@require("contacts_manage")
def import_progress(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)
    return render(request, "contacts/_import_progress.html", _import_context(job))


@require("contacts_manage")
def import_errors(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.error_report or not default_storage.exists(job.error_report.name):
        raise Http404("This import has no error report.")
    return FileResponse(
        default_storage.open(job.error_report.name, "rb"),
        as_attachment=True,
        filename=f"import-{job.pk}-errors.csv",
        content_type="text/csv",
    )


# -- exports ----------------------------------------------------------------------------


class ExportForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[
            (ExportJob.Scope.ALL, "All contacts"),
            (ExportJob.Scope.LIST, "The contacts in a list"),
            (ExportJob.Scope.SEGMENT, "The contacts in a segment"),
        ],
        initial=ExportJob.Scope.ALL,
        widget=forms.RadioSelect,
        label="Export",
    )
    contact_list = forms.ModelChoiceField(ContactList.objects.all(), required=False, label="List")
    segment = forms.ModelChoiceField(Segment.objects.all(), required=False, label="Segment")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == ExportJob.Scope.LIST and not cleaned.get("contact_list"):
            self.add_error("contact_list", "Choose the list to export.")
        if cleaned.get("scope") == ExportJob.Scope.SEGMENT and not cleaned.get("segment"):
            self.add_error("segment", "Choose the segment to export.")
        return cleaned


def _deliver(request, source: exports.Source, **job_fields) -> HttpResponse:
    """Small exports stream straight away; large ones become a job with a progress bar."""
    if source.count() <= exports.stream_max_rows():
        response = StreamingHttpResponse(
            exports.csv_text(source), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{source.filename}"'
        return response
    job = exports.export_start(user=request.user, **job_fields)
    return redirect("contacts:export_detail", pk=job.pk)


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def export_contacts(request):
    form = ExportForm(request.POST or None, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            "scope": data["scope"],
            "contact_list": data["contact_list"] if data["scope"] == ExportJob.Scope.LIST else None,
            "segment": data["segment"] if data["scope"] == ExportJob.Scope.SEGMENT else None,
        }
        try:
            return _deliver(request, exports.export_source(**fields), **fields)
        except exports.ExportError as exc:
            form.add_error(None, str(exc))
    return render(
        request, "contacts/export_form.html", {"form": form, "jobs": _recent_exports(request.user)}
    )


@require("consent_view")
@require_http_methods(["GET", "POST"])
def export_optouts(request):
    source = exports.export_source(scope=ExportJob.Scope.OPT_OUTS)
    if request.method == "POST":
        return _deliver(
            request, source, scope=ExportJob.Scope.OPT_OUTS, contact_list=None, segment=None
        )
    return render(request, "contacts/export_optouts.html", {"count": source.count()})


def _recent_exports(user):
    jobs = ExportJob.objects.select_related("contact_list", "segment").order_by("-pk")
    if not can(user, "consent_view"):
        jobs = jobs.exclude(scope=ExportJob.Scope.OPT_OUTS)
    return jobs[:10]


def _export_for(request, pk: int) -> ExportJob:
    job = get_object_or_404(ExportJob.objects.select_related("contact_list", "segment"), pk=pk)
    needed = "consent_view" if job.scope == ExportJob.Scope.OPT_OUTS else "contacts_manage"
    if not can(request.user, needed):
        raise PermissionDenied
    exports.export_fail_if_stale(job)
    return job


def _export_context(job: ExportJob) -> dict:
    running = job.status in (JobStatus.PENDING, JobStatus.RUNNING)
    total = max(job.rows_total, job.rows_done, 1)
    return {
        "job": job,
        "running": running,
        "percent": min(99, job.rows_done * 100 // total) if running else 100,
        "no_worker": job.status == JobStatus.PENDING
        and (timezone.now() - job.created_at).total_seconds() > 30,
    }


@login_required
def export_detail(request, pk: int):
    return render(request, "contacts/export_detail.html", _export_context(_export_for(request, pk)))


@login_required
def export_progress(request, pk: int):
    return render(
        request, "contacts/_export_progress.html", _export_context(_export_for(request, pk))
    )


@login_required
def export_download(request, pk: int):
    job = _export_for(request, pk)
    if job.status != JobStatus.DONE or not job.file or not default_storage.exists(job.file.name):
        raise Http404("This export has no file.")
    return FileResponse(
        default_storage.open(job.file.name, "rb"),
        as_attachment=True,
        filename=job.file.name.rsplit("/", 1)[-1],
        content_type="text/csv",
    )
