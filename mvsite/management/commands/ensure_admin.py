import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin account if there is no superuser yet. The password comes from "
        "MVSIM_ADMIN_PASSWORD, or is generated and printed once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("MVSIM_ADMIN_USER", "admin"))

    def handle(self, *args, username: str, **options) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin account: already exists (unchanged)")
            return
        password = os.environ.get("MVSIM_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.objects.create_superuser(username, f"{username}@localhost", password)
        if os.environ.get("MVSIM_ADMIN_PASSWORD"):
            self.stdout.write(f"admin account: created '{username}' with MVSIM_ADMIN_PASSWORD")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"admin account: created '{username}' with password {password} "
                    "(shown only this once)"
                )
            )
