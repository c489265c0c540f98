import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsworks.settings")

app = Celery("smsworks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _check_configuration() -> None:
    """Fail with one clear line when the environment is wrong, not a traceback."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - forces settings to load
    except ImproperlyConfigured as exc:
        sys.exit(f"smsworks: configuration error: {exc}")


# Only the celery command needs this: under manage.py or gunicorn, Django loads
# the settings itself and manage.py reports the same error in one line.
if os.path.basename(sys.argv[0]) == "celery":
    _check_configuration()


@app.task(name="smsworks.ping")
def ping(marker: str) -> str:
    """Writes a marker row so that tests and health checks can see a worker run."""
    from smsworks.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(marker=marker)
    return marker
