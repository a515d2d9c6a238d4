"""Read-side views of the pipeline: where a video is, how far its job got, how old it is."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from redis.exceptions import RedisError
from rq.job import Job

from catalog.models import Video, VideoStatus
from mvsite.queues import get_connection
from pipeline.models import StageRun
from pipeline.stages import STAGES

logger = logging.getLogger(__name__)

# What the progress page shows, in order.
STEPS = (VideoStatus.PENDING, *(stage.status for stage in STAGES), VideoStatus.READY)


def job_states(job_ids: list[str]) -> dict[str, str]:
    """RQ status per job id ('missing' when Redis no longer has it; {} when Redis is down)."""
    ids = [job_id for job_id in job_ids if job_id]
    if not ids:
        return {}
    try:
        jobs = Job.fetch_many(ids, connection=get_connection())
        return {
            job_id: str(getattr(job.get_status(refresh=False), "value", "")) if job else "missing"
            for job_id, job in zip(ids, jobs, strict=True)
        }
    except RedisError:
        logger.warning("cannot read job states from Redis", exc_info=True)
        return {}


def current_run(video: Video) -> StageRun | None:
    return StageRun.objects.filter(job_id=video.job_id).first() if video.job_id else None


def stage_age(run: StageRun | None) -> timedelta | None:
    """How long the video has been in its current stage."""
    return timezone.now() - run.queued_at if run else None


def progress(video: Video) -> dict:
    """Stage and job progress of a video being processed (JSON-able)."""
    meta: dict = {}
    job_status = None
    if video.job_id:
        try:
            job = Job.fetch_many([video.job_id], connection=get_connection())[0]
        except RedisError:  # the page still shows the stage from the database
            logger.warning("cannot fetch job %s", video.job_id, exc_info=True)
            job = None
        if job is not None:
            meta = dict(job.meta or {})
            job_status = getattr(job.get_status(refresh=False), "value", None)
    done, total = meta.get("done"), meta.get("total")
    percent = None
    if isinstance(done, int | float) and isinstance(total, int | float) and total > 0:
        percent = max(0, min(100, round(100 * done / total)))
    return {
        "video_id": video.pk,
        "status": video.status,
        "stage": video.get_status_display(),
        "stage_index": STEPS.index(video.status) if video.status in STEPS else None,
        "stage_count": len(STEPS),
        "detail": str(meta.get("stage") or ""),
        "done": done,
        "total": total,
        "percent": percent,
        "job_id": video.job_id or None,
        "job_status": job_status,
        "ready": video.status == VideoStatus.READY,
        "failed": video.status == VideoStatus.FAILED,
        "error": video.error if video.status == VideoStatus.FAILED else "",
    }


def runs_of(video: Video, limit: int = 20) -> list[StageRun]:
    """The video's latest stage runs, newest first."""
    return list(StageRun.objects.filter(video=video)[:limit])
