"""The processing pipeline of a video: download -> extract -> encode -> ready.

Each stage is an RQ job; when one finishes it calls `advance`, which enqueues the next stage
(after the surrounding transaction commits). Jobs are referenced by dotted path so this module
imports no heavy code (TensorFlow, OpenCV) and apps don't import each other's jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from rq import Callback, Retry

from catalog.models import Video, VideoStatus
from mvsite.queues import QUEUE_DEFAULT, QUEUE_EXTRACT, enqueue_on_commit

logger = logging.getLogger(__name__)

DOWNLOAD_JOB = "catalog.jobs.download_video"
EXTRACT_JOB = "features.jobs.extract_video"
ENCODE_JOB = "ml.jobs.encode_video"
FAILURE_CALLBACK = "catalog.pipeline.on_job_failure"

# Transient failures (network, a database restart) are retried with backoff; media errors
# are not retried: the job marks the video failed with the reason and returns.
RETRY = Retry(max=3, interval=[10, 60, 180])


@dataclass(frozen=True)
class Stage:
    status: str
    job: str
    queue: str


def extraction_timeout(duration_seconds: float | None) -> int:
    """Seconds an extraction may take: generous fixed part + a multiple of the duration."""
    duration = duration_seconds or settings.MAX_VIDEO_SECONDS
    return int(300 + 2 * duration)


def next_stage(video: Video) -> Stage | None:
    if video.status in (VideoStatus.READY, VideoStatus.FAILED):
        return None
    if not video.media:
        if video.source_url:
            return Stage(VideoStatus.DOWNLOADING, DOWNLOAD_JOB, QUEUE_DEFAULT)
        return None
    if not hasattr(video, "features") or video.status == VideoStatus.PENDING:
        return Stage(VideoStatus.EXTRACTING, EXTRACT_JOB, QUEUE_EXTRACT)
    return Stage(VideoStatus.ENCODING, ENCODE_JOB, QUEUE_DEFAULT)


def _enqueue(video: Video, stage: Stage) -> str:
    timeout = extraction_timeout(video.duration_seconds) if stage.job == EXTRACT_JOB else 600
    job_id = enqueue_on_commit(
        stage.queue,
        stage.job,
        video.pk,
        job_timeout=timeout,
        retry=RETRY,
        on_failure=Callback(FAILURE_CALLBACK),
        description=f"{stage.status} video {video.pk}",
    )
    Video.objects.filter(pk=video.pk).update(status=stage.status, job_id=job_id, error="")
    video.status, video.job_id, video.error = stage.status, job_id, ""
    return job_id


def start_processing(video: Video, *, restart: bool = False) -> str | None:
    """Queue the next stage for this video; with restart=True start again from extraction.

    Returns the job id, or None when there is nothing to do.
    """
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video.pk)
        if restart and video.media:
            stage = Stage(VideoStatus.EXTRACTING, EXTRACT_JOB, QUEUE_EXTRACT)
        else:
            stage = next_stage(video)
        if stage is None:
            return None
        return _enqueue(video, stage)


def advance(video_id: int, finished: str) -> str | None:
    """Called by a stage's job when it finished: queue the following stage."""
    follow = {
        VideoStatus.DOWNLOADING: Stage(VideoStatus.EXTRACTING, EXTRACT_JOB, QUEUE_EXTRACT),
        VideoStatus.EXTRACTING: Stage(VideoStatus.ENCODING, ENCODE_JOB, QUEUE_DEFAULT),
    }.get(finished)
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video_id)
        if follow is None:
            Video.objects.filter(pk=video_id).update(status=VideoStatus.READY, job_id="")
            return None
        return _enqueue(video, follow)


def mark_failed(video_id: int, reason: str) -> None:
    """A human-readable failure; the video keeps no half-written stage data."""
    Video.objects.filter(pk=video_id).update(
        status=VideoStatus.FAILED, error=reason[:2000], job_id=""
    )


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: after the last retry, record the failure on the video."""
    if job.retries_left:
        return
    video_id = job.args[0] if job.args else None
    if video_id is None:
        return
    name = getattr(exc_type, "__name__", "error")
    mark_failed(video_id, f"{job.description or 'processing'} failed: {name}: {exc_value}")
