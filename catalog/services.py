"""Write-side operations of the catalog app."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.models import Genre, Video
from catalog.youtube_client import YouTubeClient

VIDEO_DIR = "videos"


def ensure_product_genres() -> list[Genre]:
    """The product's genres exist (the data migration creates them; flushes can remove them)."""
    return [Genre.objects.get_or_create(name=name)[0] for name in settings.GENRES]


class DuplicateContent(ValueError):
    """The downloaded or imported file is byte-identical to a video we already have."""

    def __init__(self, existing: Video):
        super().__init__(f"Same file as video {existing.pk} ({existing}); not added twice.")
        self.existing = existing


def youtube_client(resolver=None) -> YouTubeClient:
    """Our YouTube client configured from settings (limits, timeouts, media dir)."""
    return YouTubeClient(
        Path(settings.MEDIA_ROOT) / VIDEO_DIR,
        max_height=480,
        max_bytes=settings.DOWNLOAD_MAX_BYTES,
        max_duration_seconds=settings.MAX_VIDEO_SECONDS,
        socket_timeout=settings.DOWNLOAD_TIMEOUT_SECONDS,
        resolver=resolver,
    )


def file_sha256(path: Path | str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def media_name(path: Path | str) -> str:
    """The FileField name of a file under MEDIA_ROOT."""
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def download_video_media(video_id: int, client: YouTubeClient | None = None) -> Video:
    """Download the video's source_url and attach the file; raises YouTubeError subclasses."""
    video = Video.objects.get(pk=video_id)
    if not video.source_url:
        raise ValueError(f"video {video_id} has no source URL to download")
    result = (client or youtube_client()).download(video.source_url)
    sha = file_sha256(result.path)
    duplicate = Video.objects.filter(content_sha256=sha).exclude(pk=video.pk).first()
    if duplicate is not None and not video.is_query:
        raise DuplicateContent(duplicate)
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video_id)
        video.media.name = media_name(result.path)
        if result.extractor.lower().startswith("youtube") and not video.youtube_id:
            video.youtube_id = result.video_id
        # A query identical to a catalog video keeps no hash: the unique hash belongs to
        # the catalog copy, and the search excludes that copy by id instead.
        video.content_sha256 = "" if duplicate is not None else sha
        video.duration_seconds = result.duration or video.duration_seconds
        if not video.title:
            video.title = result.title[:300]
        video.save()
    return video
