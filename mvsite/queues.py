"""RQ queues (django-rq, configured from REDIS_URL) and enqueueing that waits for the commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import django_rq
from django.db import transaction
from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

QUEUE_DEFAULT = "default"
QUEUE_EXTRACT = "extract"
QUEUE_TRAIN = "train"
QUEUE_NAMES = (QUEUE_DEFAULT, QUEUE_EXTRACT, QUEUE_TRAIN)


def get_queue(name: str = QUEUE_DEFAULT):
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    return django_rq.get_queue(name)


def get_connection() -> Redis:
    """The Redis connection the queues use (they share one server and database)."""
    return django_rq.get_connection(QUEUE_DEFAULT)


def enqueue_on_commit(
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    **options: Any,
) -> str:
    """Enqueue after the surrounding transaction commits, so the worker sees our rows.

    Returns the job id (chosen now, so callers can store it in the same transaction).
    """
    job_id = job_id or uuid.uuid4().hex
    transaction.on_commit(
        lambda: get_queue(queue_name).enqueue(func, *args, job_id=job_id, **options), robust=False
    )
    return job_id


def fetch_job(job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=get_connection())
    except NoSuchJobError:
        return None


def set_progress(done: int, total: int, stage: str = "") -> None:
    """Record progress of the current RQ job in job.meta (no-op outside a worker)."""
    job = get_current_job()
    if job is None:
        return
    job.meta.update({"done": done, "total": total, "stage": stage})
    job.save_meta()


class QueueUnavailable(RuntimeError):
    """The job queue (Redis) cannot be reached; str() is for the user (HTTP 503)."""

    status = 503


QUEUE_DOWN_MESSAGE = (
    "The processing queue is not reachable right now, so nothing was stored. "
    "Please try again in a minute."
)


def require_queue() -> None:
    """Raise QueueUnavailable unless Redis answers (checked before anything is written)."""
    try:
        get_connection().ping()
    except RedisError as exc:
        raise QueueUnavailable(QUEUE_DOWN_MESSAGE) from exc
