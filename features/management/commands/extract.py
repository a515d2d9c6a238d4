"""python manage.py extract [--pending | --video ID ... | --all] [--workers N]"""

from __future__ import annotations

import multiprocessing
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from tqdm import tqdm

from catalog.models import Video, VideoStatus
from features.parallel import extract_one, init_worker


class Command(BaseCommand):
    help = (
        "Extract features of catalog videos in this process (RQ workers do the same through "
        "the pipeline). Each finished video is queued for encoding."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--pending", action="store_true", help="videos with media, never extracted"
        )
        which.add_argument("--video", type=int, nargs="+", metavar="ID", help="these videos")
        which.add_argument("--all", action="store_true", help="every video with media")
        parser.add_argument("--workers", type=int, default=1, help="parallel processes (1-16)")

    def handle(self, *args, pending: bool, video, all: bool, workers: int, **options) -> None:
        if not 1 <= workers <= 16:
            raise CommandError("--workers must be between 1 and 16")
        videos = Video.objects.exclude(media="")
        if pending:
            videos = videos.filter(features__isnull=True).exclude(status=VideoStatus.FAILED)
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
        outcomes: Counter[str] = Counter()
        failures: list[tuple[int, str]] = []
        if workers > 1:
            # Spawned (not forked) workers: see features/parallel.py.
            pool_cm = multiprocessing.get_context("spawn").Pool(
                workers,
                initializer=init_worker,
                initargs=(connections["default"].settings_dict["NAME"], str(settings.MEDIA_ROOT)),
            )
        else:
            pool_cm = _Inline()
        with pool_cm as pool:
            for video_id, outcome, detail in tqdm(
                pool.imap_unordered(extract_one, ids), total=len(ids), unit="video", desc="extract"
            ):
                outcomes[outcome] += 1
                if outcome == "failed":
                    failures.append((video_id, detail))
        self.stdout.write(f"extracted: {outcomes['done']} done, {outcomes['failed']} failed")
        for video_id, detail in failures:
            self.stdout.write(f"  video {video_id}: {detail}")


class _Inline:
    """Pool-like runner in this process (workers=1): simpler tracebacks, no fork."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap_unordered(self, func, items):
        return map(func, items)
