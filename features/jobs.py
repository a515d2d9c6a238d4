"""RQ jobs of the features app (queue `extract`). Thin: services do the work."""

from __future__ import annotations

import logging

from catalog import pipeline
from catalog.models import VideoStatus
from features.media import MediaError
from features.services import NoMediaFile, extract_video_features
from mvsite.queues import set_progress

logger = logging.getLogger(__name__)


def extract_video(video_id: int) -> str:
    """Extract a video's features, make it searchable, and queue encoding.

    Bad media fails the video with a human reason and no partial rows (the segments are
    written in one transaction at the end). Other errors (database restart, worker killed)
    propagate so RQ retries the job with backoff.
    """
    set_progress(0, 0, "extracting")
    try:
        result = extract_video_features(
            video_id, progress=lambda done, total: set_progress(done, total, "extracting")
        )
    except (MediaError, NoMediaFile) as exc:
        pipeline.mark_failed(video_id, f"Could not analyse the media: {exc}")
        return f"failed: {exc}"
    from search.materialize import materialize_video

    materialize_video(video_id)
    from catalog.metadata import analyse_track

    # Fills tempo/energy/loudness/danceability where Spotify gave none (source "analysis").
    analyse_track(video_id)
    pipeline.advance(video_id, VideoStatus.EXTRACTING)
    return f"{len(result.segments)} segments"
