from django.contrib import messages as flash
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from contacts.forms import CustomFieldForm
from contacts.models import CustomField
from smsworks.permissions import require


@require("contact_fields_manage")
def field_list(request):
    return render(request, "contacts/field_list.html", {"fields": CustomField.objects.all()})


@require("contact_fields_manage")
@require_http_methods(["GET", "POST"])
def field_edit(request, pk: int | None = None):
    field = get_object_or_404(CustomField, pk=pk) if pk else None
    form = CustomFieldForm(request.POST or None, instance=field)
    if request.method == "POST" and form.is_valid():
        field = form.save()
        flash.success(request, f"Field {field.label} saved.")
        return redirect("contacts:fields")
    return render(request, "contacts/field_form.html", {"form": form, "field": field})
