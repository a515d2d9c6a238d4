"""python manage.py doctor: what this installation can do, one line per tool, without network."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import yt_dlp
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.youtube_client import javascript_support
from features.musicnn import MusicnnCheckpointError, checkpoint_dir
from mvsite import services


class Command(BaseCommand):
    help = (
        "Report ffmpeg, yt-dlp with its JavaScript runtime and challenge scripts (YouTube), the "
        "MusiCNN checkpoint and the database and Redis servers; exit 1 if any is missing."
    )
    requires_system_checks: list = []

    def handle(self, *args, **options) -> None:
        problems = 0

        def report(name: str, ok: bool, detail: str) -> None:
            nonlocal problems
            problems += not ok
            self.stdout.write(f"{name:<10} {'ok' if ok else 'MISSING':<8} {detail}")

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        version = subprocess.run(
            [ffmpeg, "-version"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n", 1)[0]
        report("ffmpeg", bool(version), version or ffmpeg)
        js = javascript_support()
        report(
            "yt-dlp",
            js.ok,
            f"{yt_dlp.version.__version__}; JS runtime {js.runtime or 'none'}, "
            f"challenge scripts {js.challenge_scripts or 'none'}",
        )
        try:
            folder = checkpoint_dir(settings.MUSICNN_MODEL)
            report("musicnn", True, f"{settings.MUSICNN_MODEL} in {folder}")
        except MusicnnCheckpointError as exc:
            report("musicnn", False, str(exc))
        for status in services.status():
            self.stdout.write(status.line())
            problems += not status.running
        if problems:
            raise CommandError(f"{problems} problem(s): see the lines above")
