"""Find videos that will never finish on their own and put them back on track.

A video in a stage has a current run. That run is *lost* when its job no longer exists in
Redis (Redis restarted or emptied), its worker died mid-job (SIGKILL, the machine went away),
it ran past its timeout, its job ended without the pipeline moving on, or — for a run in a
command's process — that process is gone. A lost run is queued again as a new attempt of the
same stage, up to ``PIPELINE_MAX_ATTEMPTS``; then the video fails with the reason.

Pipeline workers run this at start and every ``PIPELINE_RECONCILE_SECONDS`` (their
maintenance loop; one worker at a time, under a Redis lock); ``manage.py reconcile`` runs it
by hand.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis import Redis
from rq.job import Job, JobStatus
from rq.worker import Worker

from catalog.models import Video, VideoStatus
from catalog.services import set_processing_state
from mvsite.queues import get_connection
from pipeline import services
from pipeline.models import RunPlace, RunState, StageRun
from pipeline.stages import IN_PROGRESS, stage_named

logger = logging.getLogger(__name__)

# A run younger than this may not have reached Redis yet (its transaction is committing).
GRACE = timedelta(seconds=30)
ALIVE_KEY = "mvsim:worker-alive:{}"
PIPELINE_WORKER_FIELD = "mvsim_pipeline_worker"
LOCK_KEY = "mvsim:reconcile-lock"


@dataclass(frozen=True)
class Finding:
    video_id: int
    stage: str
    reason: str
    action: str  # "requeued" | "failed"


def worker_alive(connection: Redis, name: str | None) -> bool:
    """Is the RQ worker of this name running? Pipeline workers prove it with a key they renew
    every few seconds; for other workers RQ's own key (it expires after the job timeout)."""
    if not name:
        return False
    key = Worker.redis_worker_namespace_prefix + name
    if not connection.exists(key):
        return False
    if connection.hget(key, PIPELINE_WORKER_FIELD):
        return bool(connection.exists(ALIVE_KEY.format(name)))
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def diagnose(
    run: StageRun, job: Job | None, connection: Redis, now: datetime | None = None
) -> str | None:
    """Why this run will never finish by itself, or None while it can."""
    now = now or timezone.now()
    limit = timedelta(seconds=run.timeout_seconds) + GRACE
    if run.place == RunPlace.HERE:
        host_pid = services.local_process(run.job_id)
        here = socket.gethostname()[:30].replace("-", "_")
        if host_pid and host_pid[0] == here:
            return None if _process_alive(host_pid[1]) else "the command running it stopped"
        started = run.started_at or run.queued_at
        return (
            f"it ran past {2 * limit.seconds} s in a command" if now - started > 2 * limit else None
        )
    if job is None:
        if now - run.queued_at < GRACE:
            return None
        return "its job is no longer in Redis (was Redis restarted or emptied?)"
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED):
        return None
    if status == JobStatus.STARTED:
        if not worker_alive(connection, job.worker_name):
            return f"the worker running it ({job.worker_name or 'unknown'}) stopped"
        if job.started_at and now - job.started_at > limit:
            return f"it ran past its timeout of {run.timeout_seconds} s"
        return None
    if status == JobStatus.FINISHED:
        return "its job finished but the pipeline did not move on"
    return f"its job ended as {getattr(status, 'value', status)}"


def reconcile(*, max_attempts: int | None = None, now: datetime | None = None) -> list[Finding]:
    """Check every video in a stage; re-queue or fail the lost ones. Returns what was done."""
    max_attempts = max_attempts or settings.PIPELINE_MAX_ATTEMPTS
    connection = get_connection()
    videos = dict(Video.objects.filter(status__in=IN_PROGRESS).values_list("pk", "job_id"))
    runs = {run.job_id: run for run in StageRun.objects.filter(job_id__in=list(videos.values()))}
    queued = [job_id for job_id, run in runs.items() if run.place == RunPlace.QUEUE]
    jobs = dict(zip(queued, Job.fetch_many(queued, connection=connection), strict=True))
    findings = []
    for video_id, job_id in videos.items():
        run = runs.get(job_id)
        if run is None:
            reason = "it has no record of its current run"
        else:
            reason = diagnose(run, jobs.get(job_id), connection, now)
        if reason:
            finding = _recover(video_id, job_id, reason, max_attempts)
            if finding:
                findings.append(finding)
    return findings


def _recover(video_id: int, job_id: str, reason: str, max_attempts: int) -> Finding | None:
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video_id)
        if video.job_id != job_id or video.status not in IN_PROGRESS:
            return None  # it moved on while we looked
        stage = stage_named(video.status)
        run = StageRun.objects.filter(job_id=job_id).first()
        attempt = run.attempt if run else 1
        if attempt >= max_attempts:
            message = (
                f"{stage.name} stopped {attempt} time(s) without finishing; last time {reason}."
            )
            if run is None:
                set_processing_state(video.pk, VideoStatus.FAILED, error=message)
            else:
                services.fail(job_id, message)
            logger.warning("video %s failed: %s", video_id, message)
            return Finding(video_id, stage.name, reason, "failed")
        if run is not None:
            services.finish_run(run, RunState.FAILED, f"lost: {reason}")
        services.begin(video, stage, place=RunPlace.QUEUE, attempt=attempt + 1)
    logger.warning(
        "video %s: %s %s; queued again (attempt %d)", video_id, stage.name, reason, attempt + 1
    )
    return Finding(video_id, stage.name, reason, "requeued")


def reconcile_once(**kwargs) -> list[Finding] | None:
    """``reconcile`` unless another process is doing it now (None then)."""
    lock = get_connection().lock(LOCK_KEY, timeout=300, blocking=False)
    if not lock.acquire(blocking=False):
        return None
    try:
        return reconcile(**kwargs)
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: nothing to release
            pass


def check_video(video: Video) -> str | None:
    """Why this one video in a stage is lost, or None (used when a query is submitted again)."""
    if video.status not in IN_PROGRESS:
        return None
    run = StageRun.objects.filter(job_id=video.job_id).first()
    if run is None:
        return "it has no record of its current run"
    connection = get_connection()
    job = None
    if run.place == RunPlace.QUEUE:
        job = Job.fetch_many([run.job_id], connection=connection)[0]
    return diagnose(run, job, connection)
