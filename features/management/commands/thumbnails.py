"""python manage.py thumbnails [--pending | --all | --video ID ...] [--prune]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.models import Video
from features.media import MediaError
from features.models import VideoFeatures
from features.services import (
    NoMediaFile,
    make_thumbnails,
    prune_thumbnails,
    thumbnails_missing,
)


class Command(BaseCommand):
    help = (
        "Make the poster and segment thumbnails of extracted videos (e.g. a catalog extracted "
        "before thumbnails existed), decoding only the frames they need; features are kept."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--pending",
            action="store_true",
            help="extracted videos without a poster (or whose poster file is gone)",
        )
        which.add_argument("--video", type=int, nargs="+", metavar="ID", help="these videos")
        which.add_argument("--all", action="store_true", help="every extracted video, again")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="also delete thumbnail folders of videos that no longer exist",
        )

    def handle(self, *args, pending: bool, video, all: bool, prune: bool, **options) -> None:
        quiet = options["verbosity"] == 0
        extracted = VideoFeatures.objects.exclude(video__media="")
        if video:
            known = set(Video.objects.filter(pk__in=video).values_list("pk", flat=True))
            missing = sorted(set(video) - known)
            if missing:
                raise CommandError(f"no video with id {', '.join(map(str, missing))}")
            ready = set(extracted.filter(pk__in=video).values_list("pk", flat=True))
            not_ready = sorted(set(video) - ready)
            if not_ready:
                raise CommandError(
                    f"video {', '.join(map(str, not_ready))} is not extracted yet (or has no "
                    "media file): run `extract --video ID`, which makes its thumbnails too"
                )
            ids = sorted(set(video))
        else:
            rows = extracted.order_by("pk").values_list("pk", "poster")
            ids = [pk for pk, poster in rows if all or thumbnails_missing(pk, poster)]
        if prune:
            removed = prune_thumbnails()
            self.stdout.write(f"pruned {removed} thumbnail folder(s) of deleted videos")
        if not ids:
            self.stdout.write("no video needs thumbnails")
            return
        made = pictures = 0
        seconds = 0.0
        failures: list[tuple[int, str]] = []
        for video_id in tqdm(ids, desc="thumbnails", unit="video", disable=quiet):
            try:
                outcome = make_thumbnails(video_id)
            except (MediaError, NoMediaFile, ValueError) as exc:
                failures.append((video_id, str(exc)))
                continue
            made += 1
            pictures += outcome.segments
            seconds += outcome.seconds
        self.stdout.write(
            f"thumbnails: {made} video(s) done ({pictures} segment pictures, "
            f"{seconds:.1f} s), {len(failures)} failed"
        )
        for video_id, detail in failures:
            self.stdout.write(f"  video {video_id}: {detail}")
