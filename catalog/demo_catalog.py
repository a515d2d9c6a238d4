"""Services that turn procedurally generated demo clips into catalog videos."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.demo import DemoClip, generate_demo_video, resolve_genre
from catalog.models import Genre, TrackMetadata, ValueSource, Video, VideoSource
from catalog.services import VIDEO_DIR, file_sha256, media_name

DEMO_DIR = f"{VIDEO_DIR}/demo"


@dataclass
class DemoCatalogResult:
    created: list[Video] = field(default_factory=list)
    existing: int = 0


def _store_clip(
    clip: DemoClip, tmp_path: Path, on_created: Callable[[Video], object] | None
) -> Video | None:
    """Move the clip into MEDIA and create its Video + metadata; None if already present."""
    sha = file_sha256(tmp_path)
    if Video.objects.filter(content_sha256=sha).exists():
        return None
    final = Path(settings.MEDIA_ROOT) / DEMO_DIR / clip.path.name
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(tmp_path, final)
    try:
        with transaction.atomic():
            genre, _ = Genre.objects.get_or_create(name=clip.genre)
            video = Video.objects.create(
                title=clip.title,
                artist=clip.artist,
                source=VideoSource.DEMO,
                media=media_name(final),
                original_filename=final.name,
                content_sha256=sha,
                duration_seconds=clip.duration,
                genre=genre,
            )
            TrackMetadata.objects.create(
                video=video,
                tempo=clip.tempo_bpm,
                energy=clip.energy,
                danceability=clip.danceability,
                sources={name: ValueSource.DEMO for name in ("tempo", "energy", "danceability")},
            )
            if on_created is not None:
                on_created(video)
    except Exception:
        final.unlink(missing_ok=True)  # no file without a row
        raise
    return video


def create_demo_catalog(
    per_genre: int,
    seed: int,
    *,
    genres: list[str] | None = None,
    duration: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_created: Callable[[Video], object] | None = None,
) -> DemoCatalogResult:
    """Generate per_genre clips for each genre; ``on_created(video)`` runs as each is stored.

    Deterministic for a seed: a second run with the same arguments finds every clip already
    present (same content hash) and adds nothing.
    """
    if per_genre < 1:
        raise ValueError("per_genre must be at least 1")
    names = [resolve_genre(name) for name in (genres or settings.GENRES)]
    result = DemoCatalogResult()
    total = per_genre * len(names)
    done = 0
    with tempfile.TemporaryDirectory(prefix="mvsim-demo-") as tmp:
        # Round-robin over genres so an interrupted run still leaves a balanced catalog.
        for index in range(per_genre):
            for genre in names:
                out = Path(tmp) / f"{genre.lower().replace(' ', '-')}-{index:03d}.mp4"
                clip = generate_demo_video(genre, index, seed, out, duration=duration)
                video = _store_clip(clip, out, on_created)
                if video is None:
                    result.existing += 1
                else:
                    result.created.append(video)
                done += 1
                if progress:
                    progress(done, total)
    return result
