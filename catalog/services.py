"""Write-side operations of the catalog app."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.genres import UnknownGenre, genre_slug
from catalog.intake import DuplicateContent
from catalog.models import Genre, Video
from catalog.selectors import existing_video, genre_by_name
from catalog.youtube_client import YouTubeClient
from mvsite.storage import publish_media

VIDEO_DIR = "videos"


def ensure_product_genres() -> list[Genre]:
    """The product's genres exist (the data migration creates them; flushes can remove them)."""
    return [genre_named(name) for name in settings.GENRES]


def genre_named(name: str) -> Genre:
    """The genre `name` means (``selectors.genre_by_name``), created when none matches; a name
    with nothing to make a slug of raises UnknownGenre and is never created."""
    try:
        return genre_by_name(name)
    except UnknownGenre:
        if not genre_slug(name):
            raise
        return create_genre(name)


def create_genre(name: str) -> Genre:
    """A new genre called `name` (``genre_named`` looks for it first). One created at the same
    moment by someone else is returned."""
    name = " ".join(name.split())[: Genre._meta.get_field("name").max_length]
    if not genre_slug(name):
        raise ValueError(f"{name!r} has no letters or digits to name a genre by")
    try:
        with transaction.atomic():
            return Genre.objects.create(name=name)
    except IntegrityError:
        return Genre.objects.get(slug=genre_slug(name))


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
    duplicate = existing_video(sha256=sha, exclude=video.pk)
    if duplicate is not None and not video.is_query:
        raise DuplicateContent(duplicate)
    # yt-dlp writes under MEDIA_ROOT; a remote media storage gets the file now (mvsite/storage).
    name = publish_media(result.path)
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video_id)
        video.media.name = name
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


# --- Facts other apps establish about a video (they compute, the catalog writes) ----------------


def set_processing_state(video_id: int, status: str, *, job_id: str = "", error: str = "") -> None:
    """Where the video is in the pipeline. The pipeline app decides; this only writes."""
    Video.objects.filter(pk=video_id).update(
        status=status, job_id=job_id, error=error[:2000], updated_at=timezone.now()
    )


def record_media_facts(
    video_id: int, *, duration: float | None, has_audio: bool, has_video: bool
) -> None:
    """What decoding found: the duration of the content and which streams it has."""
    Video.objects.filter(pk=video_id).update(
        duration_seconds=duration,
        has_audio=has_audio,
        has_video=has_video,
        updated_at=timezone.now(),
    )


def record_predictions(predictions: Iterable[tuple[int, str, float]]) -> int:
    """Store (video id, predicted genre name, confidence) triples; unknown genres are created
    (a model may have been trained on imported genres). Returns how many were written."""
    predictions = list(predictions)
    names = {name for _, name, _ in predictions}
    genres = {genre.name: genre for genre in Genre.objects.filter(name__in=names)}
    for name in names - genres.keys():
        genres[name] = genre_named(name)
    for video_id, name, confidence in predictions:
        Video.objects.filter(pk=video_id).update(
            predicted_genre=genres[name], predicted_confidence=float(confidence)
        )
    return len(predictions)
