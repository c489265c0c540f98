from django.conf import settings
from django.db import models
from django.db.models import Q


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


class Contact(models.Model):
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
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="contact_list_recent_idx"),
            models.Index(fields=["last_name", "first_name"], name="contact_name_idx"),
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
