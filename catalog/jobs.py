"""RQ jobs of the catalog app. Thin: they call services and advance the pipeline."""

from __future__ import annotations

import logging

from catalog import pipeline
from catalog.models import VideoStatus
from catalog.services import DuplicateContent, download_video_media
from catalog.youtube_client import NetworkError, YouTubeError

logger = logging.getLogger(__name__)


def download_video(video_id: int) -> str:
    """Download a video's source URL into MEDIA, then queue extraction."""
    try:
        download_video_media(video_id)
    except NetworkError:
        raise  # transient: RQ retries with backoff, the failure callback records the last one
    except (YouTubeError, DuplicateContent) as exc:
        pipeline.mark_failed(video_id, str(exc))
        return f"failed: {exc}"
    pipeline.advance(video_id, VideoStatus.DOWNLOADING)
    return "downloaded"
