"""The RQ worker of mvsim: jobs run in the worker's own process, so what they load stays.

RQ's default worker forks a fresh work horse per job: every encoding job imported TensorFlow
and loaded the model again (~7 s per video). ``PipelineWorker`` is RQ's ``SimpleWorker``
(no fork): TensorFlow and the active model are loaded once, at start, and a newly activated
model is loaded by the first job that needs it. Job timeouts still hold (RQ's SIGALRM death
penalty works in the main thread), RQ retries still apply, and SIGTERM stops it after the
current job (a second SIGTERM stops it at once).

It also proves it is alive with a key it renews every few seconds from a thread (a job may
run for minutes), which the reconciler reads to tell a busy worker from a killed one, and it
runs the reconciler at start and from its maintenance loop.

``settings.RQ["WORKER_CLASS"]`` makes ``manage.py rqworker`` use it.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connections
from rq import SimpleWorker

from features.services import music_model
from ml.selectors import active_model_version
from ml.services import load_model
from pipeline.reconcile import ALIVE_KEY, PIPELINE_WORKER_FIELD, reconcile_once

logger = logging.getLogger(__name__)


class PipelineWorker(SimpleWorker):
    @property
    def dequeue_timeout(self) -> int:
        # Wake up while idle often enough for the periodic reconciliation.
        return max(1, min(self.worker_ttl - 15, settings.PIPELINE_RECONCILE_SECONDS))

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", settings.PIPELINE_RECONCILE_SECONDS)
        super().__init__(*args, **kwargs)
        self._stopping = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None

    def work(self, *args, with_scheduler: bool = False, **kwargs) -> bool:
        self._with_scheduler = with_scheduler
        return super().work(*args, with_scheduler=with_scheduler, **kwargs)

    def bootstrap(self, *args, **kwargs) -> None:
        super().bootstrap(*args, **kwargs)
        self.connection.hset(self.key, PIPELINE_WORKER_FIELD, "1")
        self._start_heartbeat()
        if not getattr(self, "_with_scheduler", False):
            self.preload()

    def _start_scheduler(self, *args, **kwargs) -> None:
        # RQ forks the scheduler process: load TensorFlow after that fork, not before it.
        super()._start_scheduler(*args, **kwargs)
        self.preload()

    def preload(self) -> None:
        """Import TensorFlow and load MusiCNN and the active model now, not in the first job."""
        if not settings.PIPELINE_PRELOAD_MODELS:
            return
        started = time.perf_counter()
        try:
            music = music_model()
        except Exception:  # a missing checkpoint fails the extraction jobs, naming the file
            logger.exception("worker %s: could not load the music embedding model", self.name)
        else:
            if music is not None:
                music.warm_up()
                logger.info(
                    "worker %s: %s loaded in %.1f s",
                    self.name,
                    music.name,
                    time.perf_counter() - started,
                )
        started = time.perf_counter()
        version = active_model_version()
        if version is None:
            logger.info("worker %s: no active model to preload", self.name)
            return
        try:
            model = load_model(version)
            model.warm_up()
        except Exception:  # a broken artifact fails the jobs that need it, with the reason
            logger.exception("worker %s: could not preload model %s", self.name, version.pk)
            return
        logger.info(
            "worker %s: model %s loaded in %.1f s",
            self.name,
            version.pk,
            time.perf_counter() - started,
        )

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self.reconcile()

    def reconcile(self) -> None:
        try:
            findings = reconcile_once()
        except Exception:  # the next round tries again
            logger.exception("worker %s: reconciliation failed", self.name)
            return
        finally:
            _drop_stale_connections()
        for finding in findings or ():
            logger.warning(
                "video %s %s: %s (%s)",
                finding.video_id,
                finding.action,
                finding.reason,
                finding.stage,
            )

    def execute_job(self, job, queue) -> None:
        _drop_stale_connections()  # a database restarted since the last job is noticed here
        try:
            super().execute_job(job, queue)
        finally:
            _drop_stale_connections()

    # --- liveness -------------------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        self._stopping.clear()
        self._beat()
        self._heartbeat_thread = threading.Thread(
            target=self._heartbeat_loop, name="mvsim-heartbeat", daemon=True
        )
        self._heartbeat_thread.start()

    def _beat(self) -> None:
        try:
            ttl = 4 * settings.PIPELINE_HEARTBEAT_SECONDS
            self.connection.set(ALIVE_KEY.format(self.name), "1", ex=ttl)
        except Exception:  # Redis away for a moment: the next beat tries again
            logger.debug("heartbeat failed", exc_info=True)

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(settings.PIPELINE_HEARTBEAT_SECONDS):
            self._beat()

    def teardown(self) -> None:
        self._stopping.set()
        try:
            self.connection.delete(ALIVE_KEY.format(self.name))
        except Exception:
            pass
        super().teardown()


def _drop_stale_connections() -> None:
    """Django's request-boundary cleanup, between jobs. A connection inside a transaction is
    left alone: only a test runs the worker inside one."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
