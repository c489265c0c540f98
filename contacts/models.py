from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Source(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    IMPORT = "import", "Import"
    API = "api", "API"
    WEB_FORM = "web_form", "Web form"
    KEYWORD = "keyword", "Text keyword"
    INBOUND = "inbound", "Texted us"
    PROVIDER = "provider", "Provider report"


class ContactQuerySet(models.QuerySet):
    def reachable(self) -> "ContactQuerySet":
        return self.filter(opted_out=False, erased_at__isnull=True)


class CustomField(models.Model):
    """A field admins add to every contact. Values live in Contact.custom[key]."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes / no"
        CHOICE = "choice", "Choice"

    key = models.SlugField(max_length=50, unique=True, help_text="Used in merge fields: {{ key }}")
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="For choice fields.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Contact(models.Model):
    # On PostgreSQL only the unique index: the varchar_pattern_ops copy Django adds for
    # LIKE 'prefix%' went in migration 0006 (nothing asks it, and imports paid for it).
    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +447911123456")
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    custom = models.JSONField(default=dict, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=2, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    # Derived from the consent ledger (ConsentEvent) and kept here for fast queries.
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        # PostgreSQL also gets a GIN index on custom (containment filters) and
        # trigram indexes for search: migration 0003, skipped on SQLite.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="contact_list_recent_idx"),
            # Segment rules "<name> is <value>" compile to UPPER(column) = UPPER(value)
            # (or IN) on contacts not erased; with the column, erased_at and opted_out
            # (the consent rule) in the index, a segment's count is an index-only
            # scan, and the expression gets statistics, so the planner knows how many
            # rows a name matches. Names repeat, so these stay small (deduplicated);
            # email is left out: unique values make a big index every import pays
            # for, for a rare rule.
            models.Index(
                Upper("first_name"),
                "erased_at",
                "opted_out",
                "first_name",
                name="contact_first_name_rule_idx",
            ),
            models.Index(
                Upper("last_name"),
                "erased_at",
                "opted_out",
                "last_name",
                name="contact_last_name_rule_idx",
            ),
            # Country and consent rules: a few values over every contact, so a count is
            # an index-only scan of this small (deduplicated) index, not of the table.
            models.Index(
                fields=["country", "opted_out", "erased_at"], name="contact_country_rule_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.phone

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Suppression(models.Model):
    """A number that must never be sent to (it opted out), with or without a contact.

    The dispatch query checks this table right before every send."""

    phone = models.CharField(max_length=20, unique=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.phone


class ConsentEvent(models.Model):
    """The ledger: every opt-in and opt-out, never edited or deleted."""

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in"
        OPT_OUT = "opt_out", "Opt-out"

    phone = models.CharField(max_length=20)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent_events"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    keyword = models.CharField(max_length=40, blank=True)
    text = models.TextField(blank=True)
    # messaging.Message id: a plain column, because contacts never depends on messaging.
    message_id = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["phone", "-created_at"], name="consent_by_phone_idx"),
            models.Index(fields=["-created_at", "-id"], name="consent_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="opt_in", source="manual", note=""),
                name="consent_manual_opt_in_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.phone} ({self.source})"


class ContactList(models.Model):
    """A static list: contacts are added and removed explicitly."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ListMembership(models.Model):
    # No index of their own: list_member_once starts with the list, and
    # membership_by_contact_idx with the contact (migration 0006).
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, db_index=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="list_member_once")
        ]
        indexes = [
            models.Index(fields=["contact", "contact_list"], name="membership_by_contact_idx")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.contact_list_id}"


class Segment(models.Model):
    """Saved rules over contacts, compiled to one query (contacts.segments)."""

    class Match(models.TextChoices):
        ALL = "all", "All rules (AND)"
        ANY = "any", "Any rule (OR)"

    name = models.CharField(max_length=100, unique=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    # [{"field": "first_name", "op": "equals", "value": "Ada"}, ...]
    rules = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    class OnExisting(models.TextChoices):
        UPDATE = "update", "Update existing contacts"
        SKIP = "skip", "Skip existing contacts"

    file = models.FileField(upload_to="imports/")
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    # Parsing facts found on upload: {"format": "csv", "encoding": "utf-8", "delimiter": ","}
    file_info = models.JSONField(default=dict, blank=True)
    # Column index (as text) -> field name ("phone", "first_name", "custom:plan", ...)
    mapping = models.JSONField(default=dict, blank=True)
    list_ids = models.JSONField(default=list, blank=True)
    on_existing = models.CharField(
        max_length=10, choices=OnExisting.choices, default=OnExisting.UPDATE
    )
    consent_source = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    rows_total = models.BigIntegerField(default=0)  # estimate until done
    rows_done = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    invalid = models.BigIntegerField(default=0)
    duplicate = models.BigIntegerField(default=0)
    error_report = models.FileField(upload_to="imports/errors/", blank=True)
    error = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Import {self.original_name} ({self.status})"


class ExportJob(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", "All contacts"
        LIST = "list", "A list"
        SEGMENT = "segment", "A segment"
        OPT_OUTS = "opt_outs", "Opt-outs"

    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    contact_list = models.ForeignKey(ContactList, null=True, blank=True, on_delete=models.SET_NULL)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    file = models.FileField(upload_to="exports/", blank=True)
    rows_total = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Export {self.scope} ({self.status})"
