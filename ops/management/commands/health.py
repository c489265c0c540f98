"""``manage.py health``: the same checks as /health/, for scripts and systemd."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ops import checks


class Command(BaseCommand):
    help = "Check the database, broker, beat and workers; exit 1 when one fails."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--only", default="", help="Comma-separated checks: " + ",".join(checks.CHECKS)
        )
        parser.add_argument("--json", action="store_true", help="Print JSON like /health/.")

    def handle(self, *args, **options) -> None:
        try:
            results = checks.run(checks.parse_only(options["only"]))
        except checks.UnknownCheck as exc:
            raise CommandError(str(exc)) from exc
        healthy = all(r.ok for r in results.values())
        if options["json"]:
            body = {
                "status": "ok" if healthy else "fail",
                "checks": {name: r.as_dict() for name, r in results.items()},
            }
            self.stdout.write(json.dumps(body, indent=2))
        else:
            for name, result in results.items():
                mark = "ok  " if result.ok else "FAIL"
                self.stdout.write(f"{mark} {name}: {result.detail}")
        if not healthy:
            raise CommandError("unhealthy: " + ", ".join(n for n, r in results.items() if not r.ok))
