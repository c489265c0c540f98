"""Create the demo users (and, through hooks added by each app, demo data).

Idempotent: running it again changes nothing that is already there.
"""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from smsworks import services
from smsworks.roles import Role

DEMO_PASSWORD = "smsworks-demo"  # noqa: S105 - printed demo login, documented
# Each app owns its demo data: a seed() returning lines to print.
SEEDERS = ["messaging.demo.seed", "contacts.demo.seed", "emailsms.demo.seed"]
DEMO_USERS = [
    ("admin", "Ada", "Admin", Role.ADMIN),
    ("marketer", "Mia", "Marketer", Role.MARKETER),
    ("support", "Sam", "Support", Role.SUPPORT),
]


class Command(BaseCommand):
    help = "Create demo users, one per role, and demo data."

    def handle(self, *args, **options) -> None:
        for username, first, last, role in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            services.user_create(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                first_name=first,
                last_name=last,
                email=f"{username}@example.com",
            )
        for path in SEEDERS:
            for line in import_string(path)():
                self.stdout.write(line)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<9} {username}")
