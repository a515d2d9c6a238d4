"""python manage.py reconcile"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from pipeline.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Find videos stuck in a stage (their job vanished from Redis, their worker died, they "
        "overran their timeout) and queue them again, or fail them after the last attempt. "
        "Pipeline workers do this by themselves every minute."
    )

    def handle(self, *args, **options) -> None:
        try:
            findings = reconcile()
        except RedisError as exc:
            raise CommandError(f"Redis is not reachable: {exc}") from None
        for finding in findings:
            self.stdout.write(
                f"video {finding.video_id} {finding.action} ({finding.stage}): {finding.reason}"
            )
        self.stdout.write(f"{len(findings)} video(s) recovered" if findings else "nothing stuck")
