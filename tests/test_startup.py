"""What a web worker (smsworks.wsgi) and a Celery worker process do as they start:
everything they loaded goes to the garbage collector's permanent generation, so a
full collection walks only what requests and tasks made since."""

import subprocess
import sys


def _after(startup: str) -> tuple[int, int, str]:
    """Run `startup` in a fresh interpreter: (objects frozen, objects the collector
    still tracks, what `startup` printed)."""
    code = f"{startup}\nimport gc\nprint(gc.get_freeze_count(), len(gc.get_objects()))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    *printed, counts = result.stdout.strip().splitlines()
    frozen, tracked = map(int, counts.split())
    return frozen, tracked, "\n".join(printed)


def test_a_web_worker_freezes_what_it_loaded_the_views_included():
    frozen, tracked, printed = _after(
        "import sys\nimport smsworks.wsgi\nprint('inbox.views' in sys.modules)"
    )
    assert printed == "True"
    assert frozen > 50_000
    assert tracked < 2_000


def test_a_celery_worker_process_freezes_what_it_loaded():
    frozen, tracked, _ = _after(
        "from celery.signals import worker_process_init\n"
        "from smsworks.celery import app\n"
        "app.loader.import_default_modules()\n"
        "worker_process_init.send(sender=None)"
    )
    assert frozen > 50_000
    assert tracked < 2_000
