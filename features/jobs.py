"""RQ jobs of the features app (queue `extract`). Thin: services do the work."""

from __future__ import annotations

from features.services import run_extraction_stage
from mvsite.queues import set_progress


def extract_video(video_id: int) -> str:
    """Extract a video's features, make it searchable, and queue encoding.

    Bad media fails the video with a human reason and no partial rows (the segments are
    written in one transaction at the end). Other errors (database restart, worker killed)
    propagate so RQ retries the job with backoff.
    """
    set_progress(0, 0, "extracting")
    result = run_extraction_stage(
        video_id, progress=lambda done, total: set_progress(done, total, "extracting")
    )
    return "failed" if result is None else f"{len(result.segments)} segments"
