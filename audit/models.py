"""Who did what to which thing, and when: an append-only log for admins."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    # Null actor: the system did it (beat launching a scheduled campaign, a task).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    # Kept so that the log still names a deleted user.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100)  # dotted: campaign.launched, user.role_changed
    target_type = models.CharField(max_length=50, blank=True)  # campaign, user, provider_account
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The page filters by one of these, then pages by id (newest first).
            models.Index(fields=["actor", "-id"], name="audit_by_actor"),
            models.Index(fields=["action", "-id"], name="audit_by_action"),
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_by_target"),
            models.Index(fields=["created"], name="audit_by_created"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "system"
        return f"{who} {self.action} {self.target_type}:{self.target_id}"
