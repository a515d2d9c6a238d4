"""The work of each stage: plain compositions of the apps' services, one function per stage.

Each takes ``(video_id, progress)`` and returns a short outcome for the run's record. A
problem with the video itself (bad media, a refused download) raises ``StageFailed`` with a
reason for the user: the video fails at once. Anything else (a database restart, a network
error) propagates, so RQ retries the job with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from catalog.metadata import analysis_needed, fill_from_analysis
from catalog.models import Video
from catalog.services import DuplicateContent, download_video_media
from catalog.youtube_client import NetworkError, YouTubeError
from features.descriptors import describe_audio
from features.media import MediaError
from features.services import NoMediaFile, extract_video_features, local_media
from ml.selectors import active_model_version
from pipeline import catalog_work
from search.services import MaterializationError, encode_videos, materialize_video

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None


class StageFailed(Exception):
    """The video cannot get through this stage; str() is the reason shown to the user."""


def download(video_id: int, progress: Progress = None) -> str:
    try:
        download_video_media(video_id)
    except NetworkError:
        raise  # transient: retried
    except (YouTubeError, DuplicateContent) as exc:
        raise StageFailed(str(exc)) from exc
    return "downloaded"


def extract(video_id: int, progress: Progress = None) -> str:
    # One local copy of the media for both readers (fetched once when the storage is remote).
    try:
        with local_media(Video.objects.get(pk=video_id)) as media:
            try:
                result = extract_video_features(video_id, progress=progress, media=media)
            except MediaError as exc:
                raise StageFailed(f"Could not analyse the media: {exc}") from exc
            analyse_track(video_id, media=media)
    except (NoMediaFile, FileNotFoundError) as exc:  # FileNotFoundError: not in the storage
        raise StageFailed(f"Could not analyse the media: {exc}") from exc
    return f"{len(result.segments)} segments"


def analyse_track(video_id: int, *, media: Path | None = None) -> list[str]:
    """Tempo/loudness/energy/danceability of a catalog video from our own analysis, where its
    metadata lacks them. A descriptor problem never fails a video whose features are stored.
    ``media``: a local path of its file the caller already holds."""
    video = Video.objects.get(pk=video_id)
    if not video.media or video.has_audio is False or not analysis_needed(video):
        return []
    if media is None:
        with local_media(video) as path:
            return analyse_track(video_id, media=path)
    try:
        descriptors = describe_audio(media, max_seconds=settings.MAX_VIDEO_SECONDS)
    except MediaError as exc:
        logger.warning("video %s: no track descriptors: %s", video_id, exc)
        return []
    return fill_from_analysis(video, descriptors.metadata_values())


def materialize(video_id: int, progress: Progress = None) -> str:
    try:
        refit = materialize_video(video_id)
    except MaterializationError as exc:
        raise StageFailed(str(exc)) from exc
    if refit:
        catalog_work.schedule_rematerialization(refit)
        return f"searchable; refit queued ({refit})"
    return "searchable"


def encode(video_id: int, progress: Progress = None) -> str:
    """Code + predicted genre with the active model; without one the video is still searchable
    by its features (and is encoded when a model is activated)."""
    version = active_model_version()
    if version is None:
        return "no active model"
    summary = encode_videos([video_id], version)
    return f"encoded with model {version.pk}" if summary.encoded else "no segments to encode"
