"""python manage.py extract [--pending | --video ID ... | --all] [--workers N] [--only music]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from catalog.models import Video, VideoStatus
from features.musicnn import MusicnnCheckpointError
from features.services import music_model
from pipeline.commandline import add_music_here, process_here


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
        parser.add_argument(
            "--only",
            choices=("music",),
            help="music: add only the MusiCNN embeddings to already extracted videos (audio "
            "decoded again, other features kept) and rewrite their search vectors; --pending "
            "then means extracted videos without them",
        )

    def handle(
        self, *args, pending: bool, video, all: bool, workers: int, only: str | None, **options
    ) -> None:
        if not 1 <= workers <= 16:
            raise CommandError("--workers must be between 1 and 16")
        if only == "music":
            self._music(pending=pending, video=video, quiet=options["verbosity"] == 0)
            return
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

    def _music(self, *, pending: bool, video, quiet: bool) -> None:
        extracted = Video.objects.filter(features__isnull=False).exclude(media="")
        if video:
            known = set(Video.objects.filter(pk__in=video).values_list("pk", flat=True))
            missing = sorted(set(video) - known)
            if missing:
                raise CommandError(f"no video with id {', '.join(map(str, missing))}")
            ready = set(extracted.filter(pk__in=video).values_list("pk", flat=True))
            not_extracted = sorted(set(video) - ready)
            if not_extracted:
                raise CommandError(
                    f"video {', '.join(map(str, not_extracted))} is not extracted yet: run "
                    "`extract --video ID` (music embeddings come with the other features)"
                )
            extracted = extracted.filter(pk__in=video)
        elif pending:
            extracted = extracted.filter(features__music_mean__isnull=True).exclude(has_audio=False)
        ids = list(extracted.order_by("pk").values_list("pk", flat=True))
        if not ids:
            self.stdout.write("nothing to add music embeddings to")
            return
        try:
            model = music_model()
        except MusicnnCheckpointError as exc:
            raise CommandError(str(exc)) from exc
        if model is None:
            raise CommandError("music embeddings are turned off (MVSIM_MUSIC_EMBEDDINGS=0)")
        summary = add_music_here(ids, model, quiet=quiet)
        self.stdout.write(summary.line())
        for video_id, detail in summary.failures:
            self.stdout.write(f"  video {video_id}: {detail}")
