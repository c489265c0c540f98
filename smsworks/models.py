from django.db import models

from smsworks.roles import CAPABILITIES


class Capability(models.Model):
    """Has no table and no rows: its Meta carries the permissions that roles grant."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = CAPABILITIES

    def __str__(self) -> str:
        return "capability"


class WorkerHeartbeat(models.Model):
    """A row written by a worker task: proof that a real worker picked a task up."""

    marker = models.CharField(max_length=100, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.marker} at {self.created_at:%Y-%m-%d %H:%M:%S}"
