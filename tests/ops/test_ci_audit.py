""".ci/audit.py: loud, but never fails the build for a network hiccup (no network here)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def audit(monkeypatch):
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("PIP_AUDIT_REQUIRED", "PIP_AUDIT_STRICT"):
        monkeypatch.delenv(name, raising=False)
    return module


def _fake_pip_audit(tmp_path: Path, report: dict | None, code: int) -> list[str]:
    script = tmp_path / "fake_pip_audit.py"
    output = json.dumps(report) if report is not None else "Connection reset"
    script.write_text(f"import sys\nprint({output!r})\nsys.exit({code})\n")
    return [sys.executable, str(script)]


def test_offline_prints_not_audited_and_passes(audit, monkeypatch, capsys):
    monkeypatch.setattr(audit, "online", lambda: False)
    assert audit.main() == 0
    assert "NOT AUDITED (offline)" in capsys.readouterr().out


def test_offline_fails_when_an_audit_is_required(audit, monkeypatch, capsys):
    monkeypatch.setattr(audit, "online", lambda: False)
    monkeypatch.setenv("PIP_AUDIT_REQUIRED", "true")
    assert audit.main() == 1
    assert "failing the build" in capsys.readouterr().out


def test_a_service_error_is_not_audited_rather_than_a_failure(audit, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audit, "online", lambda: True)
    monkeypatch.setattr(audit, "pip_audit_command", lambda: _fake_pip_audit(tmp_path, None, 1))
    assert audit.main() == 0
    assert "NOT AUDITED (pip-audit failed with exit code 1)" in capsys.readouterr().out


def test_a_vulnerability_is_loud_but_fails_only_when_strict(audit, monkeypatch, tmp_path, capsys):
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [
                {"id": "PYSEC-0000-1", "fix_versions": ["5.2.1"]}
            ]},
            {"name": "httpx", "version": "0.28.0", "vulns": []},
        ]
    }  # fmt: skip
    monkeypatch.setattr(audit, "online", lambda: True)
    monkeypatch.setattr(audit, "pip_audit_command", lambda: _fake_pip_audit(tmp_path, report, 1))
    assert audit.main() == 0
    out = capsys.readouterr().out
    assert "VULNERABLE DEPENDENCIES" in out
    assert "django 5.2.0: PYSEC-0000-1 (fixed in: 5.2.1)" in out

    monkeypatch.setenv("PIP_AUDIT_STRICT", "true")
    assert audit.main() == 1


def test_a_clean_report_says_how_many_were_audited(audit, monkeypatch, tmp_path, capsys):
    report = {"dependencies": [{"name": "httpx", "version": "0.28.0", "vulns": []}]}
    monkeypatch.setattr(audit, "online", lambda: True)
    monkeypatch.setattr(audit, "pip_audit_command", lambda: _fake_pip_audit(tmp_path, report, 0))
    assert audit.main() == 0
    assert "1 packages audited, no known vulnerabilities" in capsys.readouterr().out
