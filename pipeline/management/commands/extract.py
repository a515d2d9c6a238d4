"""python manage.py extract [--pending | --video ID ... | --all] [--workers N]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from catalog.models import Video, VideoStatus
from pipeline.commandline import process_here


class Command(BaseCommand):
    help = (
        "Extract features of videos in this process and take them through every following "
        "stage (searchable vectors, encoding) to ready, without a worker. A job already queued "
        "for one of them is cancelled, so nothing runs twice."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--pending",
            action="store_true",
            help="videos never extracted (with media, or pending with a URL: downloaded first)",
        )
        which.add_argument("--video", type=int, nargs="+", metavar="ID", help="these videos")
        which.add_argument("--all", action="store_true", help="every video with media")
        parser.add_argument("--workers", type=int, default=1, help="parallel processes (1-16)")

    def handle(self, *args, pending: bool, video, all: bool, workers: int, **options) -> None:
        if not 1 <= workers <= 16:
            raise CommandError("--workers must be between 1 and 16")
        videos = Video.objects.exclude(media="")
        if pending:
            to_download = Q(media="", status=VideoStatus.PENDING) & ~Q(source_url="")
            videos = Video.objects.filter(
                Q(features__isnull=True) & (~Q(media="") | to_download)
            ).exclude(status=VideoStatus.FAILED)
        elif video:
            found = set(Video.objects.filter(pk__in=video).values_list("pk", flat=True))
            missing = sorted(set(video) - found)
            if missing:
                raise CommandError(f"no video with id {', '.join(map(str, missing))}")
            no_media = sorted(
                set(video) - set(videos.filter(pk__in=video).values_list("pk", flat=True))
            )
            if no_media:
                raise CommandError(f"video {', '.join(map(str, no_media))} has no media file yet")
            videos = videos.filter(pk__in=video)
        ids = list(videos.order_by("pk").values_list("pk", flat=True))
        if not ids:
            self.stdout.write("nothing to extract")
            return
        summary = process_here(
            ids, workers=workers, desc="extract", quiet=options["verbosity"] == 0
        )
        self.stdout.write(summary.line())
        for video_id, detail in summary.failures:
            self.stdout.write(f"  video {video_id}: {detail}")
