import contextlib

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import before_task_publish

        before_task_publish.connect(_stamp_beat, weak=False, dispatch_uid="ops-beat-heartbeat")


def _stamp_beat(sender=None, **kwargs) -> None:
    # Only beat publishes the heartbeat task: seeing it leave proves beat is alive.
    if sender == "ops.heartbeat":
        from ops import heartbeats

        # A cache hiccup must never stop beat from sending.
        with contextlib.suppress(Exception):
            heartbeats.beat_stamp()
