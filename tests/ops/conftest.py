"""One production-like subprocess (DEBUG off, real secret, allowed hosts), shared by
the deploy-check, security-settings and log-format tests: each start costs seconds."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, logging, sys
import django
django.setup()
from django.conf import settings as s
from django.core.management import call_command
logging.getLogger("messaging.dispatch").warning("crashed", extra={"message_uuid": "abc-123"})
if "--deploy" in sys.argv:
    call_command("check", deploy=True, fail_level="WARNING")
print("SETTINGS " + json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,
      s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS,
      s.SECURE_PROXY_SSL_HEADER]))
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def settings(self) -> list:
        line = next(x for x in self.stdout.splitlines() if x.startswith("SETTINGS "))
        return json.loads(line.removeprefix("SETTINGS "))

    @property
    def last_log_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def production_env(**extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "smsworks.settings",
        "SMSWORKS_IGNORE_DOTENV": "1",
        "DEBUG": "false",
        "SECRET_KEY": "pr0duction-like-" + "k3y-with-enough-entropy-" * 3,
        "ALLOWED_HOSTS": "sms.example.com",
        "SITE_URL": "https://sms.example.com",
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    env.update(extra)
    return env


def run_probe(*args: str, **env: str) -> Run:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def production_run() -> Run:
    """Production defaults, with `check --deploy` run inside."""
    return run_probe("--deploy")
