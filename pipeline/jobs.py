"""Every RQ job of mvsim. Thin: they find their job id and progress and call services.

Queues: ``default`` (download, materialise, encode, catalog-wide re-materialisation and
re-encoding), ``extract`` (feature extraction), ``train`` (training).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import get_current_job

from catalog.models import VideoStatus
from catalog.selectors import catalog_videos
from ml.services import train_model
from mvsite.queues import QUEUE_TRAIN, get_queue, set_progress
from pipeline import catalog_work, services
from pipeline.stages import IN_PROGRESS
from search.services import encode_videos, run_materialization

logger = logging.getLogger(__name__)

SETTLED_POLL = timedelta(seconds=15)


def run_stage(video_id: int) -> str:
    """One stage of one video; which stage is recorded on the run this job id belongs to."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_stage runs in an RQ worker; commands use services.run_here")
    return services.execute(
        job.id,
        worker=job.worker_name or "",
        progress=lambda done, total: set_progress(done, total, "working"),
    )


def on_stage_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: after the last retry, the video fails with the reason."""
    if job.retries_left:
        return
    name = getattr(exc_type, "__name__", "error")
    services.fail(job.id, f"{job.description or 'processing'} failed: {name}: {exc_value}")


def rematerialize(run_id: int | None = None) -> int:
    """Refit the standardisation stats and rewrite every feature vector."""
    return run_materialization(run_id, progress=set_progress)


def encode_many(video_ids: list[int]) -> int:
    summary = encode_videos(video_ids, progress=lambda d, t: set_progress(d, t, "encoding"))
    return summary.encoded


def train(epochs: int = 100, activate: bool = True, when_settled: bool = False, **overrides) -> int:
    """Train on the catalog, activate the new version and re-encode every video.

    ``when_settled``: while catalog videos are still being processed, look again later
    (the scheduler runs it again) instead of training on half the catalog.
    """
    if when_settled:
        busy = catalog_videos().filter(status__in=IN_PROGRESS).count()
        if busy:
            get_queue(QUEUE_TRAIN).enqueue_in(
                SETTLED_POLL,
                train,
                epochs=epochs,
                activate=activate,
                when_settled=True,
                job_timeout=get_current_job().timeout if get_current_job() else 3600,
                description=f"train once the catalog is processed ({busy} videos to go)",
                **overrides,
            )
            return 0
        if not catalog_videos().filter(status=VideoStatus.READY).exists():
            logger.warning("no ready catalog video: nothing to train on")
            return 0
    version = train_model(
        epochs=epochs,
        verbose=0,
        on_epoch_end=lambda epoch, logs: set_progress(epoch, epochs, "training"),
        **overrides,
    )
    if activate:
        catalog_work.activate_model(version, progress=lambda d, t: set_progress(d, t, "encoding"))
    return version.pk
