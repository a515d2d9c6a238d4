"""Helpers for the pipeline tests: videos with generated media, stages entered directly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from catalog.models import Video
from pipeline import services
from pipeline.models import StageRun
from pipeline.stages import stage_named
from tests.factories import VideoFactory
from tests.mediagen import make_audio, make_video

ROOT = Path(__file__).resolve().parents[2]


def video_with_media(name: str, make: Callable[[Path], object], **fields) -> Video:
    """A pending catalog video whose media file ``make(path)`` writes under MEDIA_ROOT."""
    path = Path(settings.MEDIA_ROOT) / "videos" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    return VideoFactory(pending=True, title=name, media=f"videos/{name}", **fields)


@pytest.fixture
def media_video() -> Callable[..., Video]:
    """media_video(name, seconds=6, audio_only=False, tone_hz=440) -> a pending catalog video
    with media (tone_hz=None: a video without an audio track)."""

    def make(
        name: str,
        seconds: float = 6.0,
        *,
        audio_only: bool = False,
        tone_hz: float | None = 440.0,
        **fields,
    ) -> Video:
        if audio_only:
            return video_with_media(name, lambda path: make_audio(path, seconds), **fields)
        return video_with_media(
            name, lambda path: make_video(path, seconds, tone_hz=tone_hz), **fields
        )

    return make


def enter_stage(video: Video, status: str, place: str = "queue") -> StageRun:
    """Put the video at this stage with a fresh run, as the previous stage would."""
    with transaction.atomic():
        locked = Video.objects.select_for_update().get(pk=video.pk)
        return services.begin(locked, stage_named(status), place=place)


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker process that uses this test's database and media."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mvsite.settings_test",
        "MVSIM_DB_NAME": connection.settings_dict["NAME"],
        "MVSIM_TEST_REDIS_DB": str(settings.REDIS.db),
        "MVSIM_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        # These tests are about the pipeline's mechanics: a worker process would otherwise
        # import TensorFlow and load MusiCNN (~7 s) for its first extraction.
        "MVSIM_MUSIC_EMBEDDINGS": "0",
        **extra,
    }


def start_worker(*queues: str, burst: bool = False, **env: str) -> subprocess.Popen:
    args = [sys.executable, "manage.py", "rqworker", *(queues or ("default", "extract"))]
    if burst:
        args.append("--burst")
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
