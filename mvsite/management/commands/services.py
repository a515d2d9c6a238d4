from django.core.management.base import BaseCommand, CommandError

from mvsite import services


class Command(BaseCommand):
    help = "Start, stop or report the embedded PostgreSQL+pgvector and Redis servers (idempotent)."
    # The database may not exist yet: this command creates it.
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["up", "down", "status"])

    def handle(self, *args, action: str, **options) -> None:
        try:
            statuses = getattr(services, action)()
        except services.ServiceError as exc:
            raise CommandError(str(exc)) from None
        for status in statuses:
            self.stdout.write(status.line())
        if action == "up" and not all(s.running for s in statuses):
            raise CommandError("a service is not running; see the lines above")
