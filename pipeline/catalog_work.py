"""Work on the whole catalog rather than one video: re-materialising the search vectors,
activating a model (which re-encodes every video), training.

Jobs are referenced by dotted path (``pipeline.jobs.*``): RQ imports them in the worker, and
this module need not import the jobs module that calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ml.models import ModelVersion
from ml.selectors import active_model_version, encodable_video_ids
from ml.services import EncodingUnavailable
from mvsite.queues import QUEUE_DEFAULT, QUEUE_TRAIN, enqueue_on_commit, fetch_job
from search import materialize
from search.models import Materialization
from search.services import EncodeSummary, encode_catalog

logger = logging.getLogger(__name__)

REMATERIALIZE_JOB = "pipeline.jobs.rematerialize"
ENCODE_MANY_JOB = "pipeline.jobs.encode_many"
TRAIN_JOB = "pipeline.jobs.train"
JUST_QUEUED = timedelta(seconds=60)


def schedule_rematerialization(reason: str = "") -> Materialization:
    """Refit the statistics and rewrite every feature vector in a job (after the commit).

    A run still waiting in the queue is reused: it reads the weights when it starts, so a
    second one would only repeat the work.
    """
    with transaction.atomic():
        materialize.lock_runs()
        for waiting in materialize.waiting_runs():
            job = fetch_job(waiting.job_id) if waiting.job_id else None
            just_queued = timezone.now() - waiting.created_at < JUST_QUEUED  # maybe committing
            if (job is not None and job.get_status() == "queued") or (job is None and just_queued):
                return waiting
        run = materialize.create_run(reason)
        job_id = enqueue_on_commit(
            QUEUE_DEFAULT, REMATERIALIZE_JOB, run.pk, job_timeout=3600, description=f"{run}"
        )
        materialize.set_run_job(run, job_id)
        return run


def rematerialize_here_if_waiting() -> int | None:
    """Run a queued re-materialisation in this process (a command without a worker); its job
    is cancelled first so it does not run twice. Returns the vectors written, None if none."""
    waiting = materialize.waiting_runs()
    if not waiting:
        return None
    jobs = [fetch_job(run.job_id) if run.job_id else None for run in waiting]
    if any(job is not None and job.get_status() != "queued" for job in jobs):
        return None  # a worker has one
    for job in jobs:
        if job is not None:
            job.cancel()
    keep, *extra = waiting
    materialize.discard_runs(extra)
    return materialize.run_materialization(keep.pk)


def activate_model(
    version: ModelVersion, *, progress: Callable[[int, int], None] | None = None
) -> EncodeSummary:
    """Make this the active model and re-encode every video with it, here and now.

    Codes of different versions live in different spaces, so all of them are rewritten.
    """
    version.activate()
    return encode_catalog(version, progress=progress)


def queue_activation(version: ModelVersion) -> str:
    """Activate now and re-encode every video in a background job; returns the job id."""
    with transaction.atomic():
        version.activate()
        return enqueue_on_commit(
            QUEUE_DEFAULT,
            ENCODE_MANY_JOB,
            encodable_video_ids(),
            job_timeout=3600,
            description=f"re-encode every video with model {version.pk}",
        )


def queue_encoding(video_ids: list[int]) -> str:
    """Re-encode these videos with the active model in a background job (admin action)."""
    if active_model_version() is None:
        raise EncodingUnavailable(
            "No active model yet: train one first (manage.py train --activate)."
        )
    return enqueue_on_commit(
        QUEUE_DEFAULT,
        ENCODE_MANY_JOB,
        list(video_ids),
        job_timeout=3600,
        description=f"re-encode {len(video_ids)} video(s)",
    )


def queue_training(*, epochs: int, when_settled: bool = False) -> str:
    """Train (and activate) in a job on the train queue. ``when_settled``: first wait until no
    catalog video is still being processed (the demo catalog queues training this way)."""
    return enqueue_on_commit(
        QUEUE_TRAIN,
        TRAIN_JOB,
        epochs=epochs,
        when_settled=when_settled,
        job_timeout=3600,
        description="train on the catalog" + (" once it is processed" if when_settled else ""),
    )
