"""The pipeline's state machine: start a video, claim a stage, advance, fail, start again.

Every change of a video's stage goes through here (the catalog stores it), with the video row
locked, and is recorded as a ``StageRun``. A run is identified by its job id: a job that is
not the video's current run (it was superseded by a restart or a re-queue) changes nothing,
so a stale job finishing late cannot move a video on.

Runs execute in an RQ worker (``place=queue``, the default) or in the calling process
(``place=here``: commands on a machine without a worker, see ``run_here``).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Callback, Retry
from rq.job import Job

from catalog.models import Video, VideoStatus
from catalog.selectors import catalog_videos
from catalog.services import set_processing_state
from mvsite.queues import (
    QUEUE_DOWN_MESSAGE,
    QueueUnavailable,
    get_connection,
    get_queue,
)
from pipeline.models import RunPlace, RunState, StageRun
from pipeline.stages import IN_PROGRESS, Stage, first_stage, following, stage_named
from pipeline.steps import StageFailed

logger = logging.getLogger(__name__)
# One line per video that finished or failed: the console of `dev.py run` shows these.
events = logging.getLogger("mvsim.events")

STAGE_JOB = "pipeline.jobs.run_stage"
FAILURE_CALLBACK = "pipeline.jobs.on_stage_failure"
# Transient failures (network, a database restart) are retried with backoff; problems with the
# video itself are not (the stage raises StageFailed and the video fails with the reason).
RETRY = Retry(max=3, interval=[10, 60, 180])
ACTIVE_STATES = (RunState.QUEUED, RunState.RUNNING)
LOCAL_PREFIX = "local-"

Progress = Callable[[int, int], None] | None


# --- run ids ----------------------------------------------------------------------------------


def local_job_id() -> str:
    """The id of a run in this process: the reconciler can tell whether the process lives."""
    host = socket.gethostname()[:30].replace("-", "_")
    return f"{LOCAL_PREFIX}{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def local_process(job_id: str) -> tuple[str, int] | None:
    """(host, pid) of a local run id, None for an RQ job id."""
    if not job_id.startswith(LOCAL_PREFIX):
        return None
    try:
        host, pid, _ = job_id[len(LOCAL_PREFIX) :].rsplit("-", 2)
        return host, int(pid)
    except ValueError:
        return None


# --- starting -----------------------------------------------------------------------------------


def _locked(video_id: int) -> Video:
    return Video.objects.select_for_update().get(pk=video_id)


def _cancel_jobs(job_ids: list[str]) -> None:
    """Take superseded runs' jobs out of their queues (best effort: a job that already started
    finds itself superseded when it claims or finishes)."""
    if not job_ids:
        return
    try:
        connection = get_connection()
        for job in Job.fetch_many(job_ids, connection=connection):
            if job is not None and job.get_status() in ("queued", "deferred", "scheduled"):
                job.cancel()
    except RedisError:
        logger.warning("could not cancel superseded jobs %s", job_ids, exc_info=True)


def _supersede_active(video: Video) -> None:
    active = StageRun.objects.filter(video=video, state__in=ACTIVE_STATES)
    queued = [
        job_id for job_id in active.values_list("job_id", flat=True) if not local_process(job_id)
    ]
    active.update(state=RunState.SUPERSEDED, finished_at=timezone.now())
    transaction.on_commit(partial(_cancel_jobs, queued))


def begin(video: Video, stage: Stage, *, place: str, attempt: int = 1) -> StageRun:
    """Open a run of ``stage`` (the caller holds the video's row lock in a transaction)."""
    _supersede_active(video)
    job_id = uuid.uuid4().hex if place == RunPlace.QUEUE else local_job_id()
    run = StageRun.objects.create(
        video=video,
        stage=stage.status,
        job_id=job_id,
        attempt=attempt,
        place=place,
        timeout_seconds=stage.timeout_for(video.duration_seconds),
    )
    set_processing_state(video.pk, stage.status, job_id=job_id)
    video.status, video.job_id, video.error = stage.status, job_id, ""
    if place == RunPlace.QUEUE:
        # After the commit, so the worker sees the rows; a failure surfaces from the commit.
        transaction.on_commit(partial(_enqueue, run, stage), robust=False)
    return run


def _enqueue(run: StageRun, stage: Stage) -> None:
    try:
        get_queue(stage.queue).enqueue(
            STAGE_JOB,
            run.video_id,
            job_id=run.job_id,
            job_timeout=run.timeout_seconds,
            retry=RETRY,
            on_failure=Callback(FAILURE_CALLBACK),
            description=f"{stage.name} video {run.video_id}",
            meta={"pipeline_stage": stage.name, "attempt": run.attempt},
        )
    except RedisError as exc:
        fail(run.job_id, f"Could not queue {stage.name}: the processing queue was unreachable.")
        raise QueueUnavailable(QUEUE_DOWN_MESSAGE) from exc


def start(video: Video, *, place: str = RunPlace.QUEUE) -> StageRun | None:
    """Start processing a pending or failed video; a video in progress or ready is left as it
    is. Returns the run that was opened (None: nothing to do, or no media nor URL)."""
    with transaction.atomic():
        video = _locked(video.pk)
        if video.status in IN_PROGRESS or video.status == VideoStatus.READY:
            return None
        return _open_first(video, place)


def restart(video: Video, *, place: str = RunPlace.QUEUE) -> StageRun | None:
    """Process the video again from its first stage, whatever it is doing now (a run in
    flight is superseded). None when it has neither media nor a URL."""
    with transaction.atomic():
        return _open_first(_locked(video.pk), place)


def _open_first(video: Video, place: str) -> StageRun | None:
    stage = first_stage(has_media=bool(video.media), has_source_url=bool(video.source_url))
    if stage is None:
        return None
    return begin(video, stage, place=place)


def restart_many(video_ids: list[int]) -> int:
    """Queue these videos from their first stage again (admin re-extract); how many were."""
    started = 0
    with transaction.atomic():
        for video in Video.objects.filter(pk__in=video_ids).order_by("pk"):
            started += restart(video) is not None
    return started


# --- a run's life -------------------------------------------------------------------------------


def claim(job_id: str, worker: str = "") -> StageRun | None:
    """Mark the run as running if it is still its video's current run; else None.

    A job retried by RQ claims again with the same id, which is allowed.
    """
    run = StageRun.objects.filter(job_id=job_id).only("video_id").first()
    if run is None:
        return None
    with transaction.atomic():
        video = _locked(run.video_id)
        run = StageRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in ACTIVE_STATES:
            return None
        if video.job_id != job_id:
            finish_run(run, RunState.SUPERSEDED, "a newer run of this video replaced it")
            return None
        run.state = RunState.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.worker = (worker or run.worker)[:200]
        run.save(update_fields=["state", "started_at", "worker"])
        return run


def finish_run(run: StageRun, state: str, detail: str = "") -> None:
    run.state, run.finished_at, run.detail = state, timezone.now(), detail[:2000]
    run.save(update_fields=["state", "finished_at", "detail"])


def advance(job_id: str, outcome: str = "") -> StageRun | None:
    """The run finished its stage: open the next stage's run (same place), or mark the video
    ready after the last. A run that is no longer current changes nothing. Returns the next
    run, if one was opened."""
    run = StageRun.objects.filter(job_id=job_id).only("video_id").first()
    if run is None:
        return None
    with transaction.atomic():
        video = _locked(run.video_id)
        run = StageRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in ACTIVE_STATES or video.job_id != job_id:
            if run.state in ACTIVE_STATES:
                finish_run(run, RunState.SUPERSEDED, f"finished late: {outcome}")
            return None
        finish_run(run, RunState.DONE, outcome)
        stage = following(stage_named(run.stage))
        if stage is not None:
            return begin(video, stage, place=run.place)
        set_processing_state(video.pk, VideoStatus.READY)
        transaction.on_commit(partial(_report, video.pk, "ready", outcome))
        return None


def fail(job_id: str, reason: str) -> bool:
    """The run failed for good: its video fails with the reason (if the run is current)."""
    run = StageRun.objects.filter(job_id=job_id).only("video_id").first()
    if run is None:
        return False
    with transaction.atomic():
        video = _locked(run.video_id)
        run = StageRun.objects.select_for_update().get(pk=run.pk)
        current = video.job_id == job_id and run.state in ACTIVE_STATES
        if run.state in ACTIVE_STATES:
            finish_run(run, RunState.FAILED if current else RunState.SUPERSEDED, reason)
            if run.place == RunPlace.QUEUE:  # a job still waiting in its queue must not run
                transaction.on_commit(partial(_cancel_jobs, [job_id]))
        if not current:
            return False
        set_processing_state(video.pk, VideoStatus.FAILED, error=reason)
        transaction.on_commit(partial(_report, video.pk, "failed", reason))
        return True


def interrupt(job_id: str) -> bool:
    """A local run was stopped (Ctrl-C): the video goes back to pending, to be started again."""
    run = StageRun.objects.filter(job_id=job_id).only("video_id").first()
    if run is None:
        return False
    with transaction.atomic():
        video = _locked(run.video_id)
        run = StageRun.objects.select_for_update().get(pk=run.pk)
        if run.state in ACTIVE_STATES:
            finish_run(run, RunState.SUPERSEDED, "interrupted")
        if video.job_id != job_id:
            return False
        set_processing_state(video.pk, VideoStatus.PENDING, error="")
        return True


def _report(video_id: int, what: str, detail: str) -> None:
    """One console line per finished video, with where the catalog stands."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return
    counts = dict(
        catalog_videos().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    busy = sum(counts.get(status, 0) for status in IN_PROGRESS)
    kind = "query" if video.is_query else "video"
    where = f"catalog: {counts.get(VideoStatus.READY, 0)} ready, {busy} in progress"
    if counts.get(VideoStatus.FAILED):
        where += f", {counts[VideoStatus.FAILED]} failed"
    line = f"{kind} {video.pk} “{video}” {what}"
    if what == "failed":
        events.warning("%s: %s  [%s]", line, detail.splitlines()[0][:200] if detail else "", where)
    else:
        events.info("%s  [%s]", line, where)


# --- executing a stage ---------------------------------------------------------------------------


def execute(job_id: str, *, worker: str = "", progress: Progress = None) -> str:
    """Run the stage of this run if it is still current: claim, work, advance.

    StageFailed fails the video with its reason; other exceptions propagate (RQ retries them).
    Returns a short outcome.
    """
    run = claim(job_id, worker)
    if run is None:
        return "superseded: a newer run of this video replaced this job"
    stage = stage_named(run.stage)
    try:
        outcome = stage.work(run.video_id, progress)
    except StageFailed as exc:
        fail(job_id, str(exc))
        return f"failed: {exc}"
    advance(job_id, outcome)
    return outcome


@dataclass(frozen=True)
class LocalOutcome:
    video_id: int
    status: str  # the video's status afterwards
    detail: str


def run_here(video: Video, *, progress: Progress = None) -> LocalOutcome:
    """Take the video through every stage from its first one in this process (no worker).

    Any run in flight for it (a queued job) is superseded and its job cancelled, so nothing is
    done twice. A failure fails the video with the reason; Ctrl-C puts it back to pending.
    """
    run = restart(video, place=RunPlace.HERE)
    if run is None:
        return LocalOutcome(video.pk, video.status, "nothing to process (no media, no URL)")
    detail = ""
    while run is not None:
        job_id = run.job_id
        try:
            stage = stage_named(run.stage)
            if claim(job_id, f"{socket.gethostname()} pid {os.getpid()}") is None:
                detail = "superseded while running here"
                break
            detail = stage.work(run.video_id, progress)
        except StageFailed as exc:
            fail(job_id, str(exc))
            detail = str(exc)
            break
        except Exception as exc:  # report it and let the caller go on with other videos
            detail = f"{run.stage} failed: {type(exc).__name__}: {exc}"
            fail(job_id, detail)
            break
        except BaseException:
            interrupt(job_id)
            raise
        run = advance(job_id, detail)
    status = Video.objects.filter(pk=video.pk).values_list("status", flat=True).first() or ""
    return LocalOutcome(video.pk, status, detail)
