"""Tests of the search pages, the REST API and query intake. Helpers shared by the modules."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from catalog.models import Video
from features.models import AUDIO_DIM, VISUAL_DIM, Segment
from search.models import CODE_DIM, VideoVector
from tests.factories import VideoFactory, random_vector


def media_files() -> set[str]:
    """Every file under MEDIA_ROOT (relative paths)."""
    root = Path(settings.MEDIA_ROOT)
    found = set()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.add(str(Path(folder, name).relative_to(root)))
    return found


def vector_video(seed: int, *, code: bool = False, **fields) -> Video:
    """A ready video with search vectors (random, reproducible by seed)."""
    video = VideoFactory(**fields)
    audio = np.asarray(random_vector(AUDIO_DIM, seed), dtype=np.float32)
    visual = np.asarray(random_vector(VISUAL_DIM, seed + 1000), dtype=np.float32)
    VideoVector.objects.create(
        video=video,
        audio=audio,
        visual=visual,
        both=np.concatenate([audio, visual]),
        code=random_vector(CODE_DIM, seed + 2000) if code else None,
    )
    return video


def add_segments(video: Video, count: int = 3, seconds: float = 10.0) -> None:
    rng = np.random.default_rng(video.pk)
    Segment.objects.bulk_create(
        Segment(
            video=video,
            index=i,
            start_seconds=i * seconds,
            end_seconds=(i + 1) * seconds,
            audio=rng.random(AUDIO_DIM).astype(np.float32),
            visual=rng.random(VISUAL_DIM).astype(np.float32),
        )
        for i in range(count)
    )


@pytest.fixture
def isolated_media(settings, tmp_path):
    """A fresh, empty MEDIA_ROOT for one test (so "no file left behind" can be asserted)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    Path(settings.MEDIA_ROOT).mkdir()
    return Path(settings.MEDIA_ROOT)
