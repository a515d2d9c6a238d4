"""Writes of the evaluation app: stored evaluation runs and catalog maps.

A run or a map is created first (queued), then computed by ``execute_run``/``execute_map``
— in a worker (``evaluation.jobs``) or in a command — which records progress on the row and
writes the figures (or the error) in one final save, so a page never sees half a result.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

from evaluation.layout import MapParameters, compute_layout
from evaluation.metrics import EmptyCatalog, EvaluationReport, evaluate
from evaluation.models import CatalogMap, EvaluationRun, MapPoint, WorkStatus
from evaluation.selectors import maps_in_progress, runs_in_progress, searchable_videos
from features.models import FeatureDefinition
from ml.selectors import active_model_version
from mvsite.queues import QUEUE_DEFAULT, enqueue_on_commit, require_queue
from search.models import FeatureStats, SearchSettings

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # at most one progress write a second


class WorkInProgress(Exception):
    """Another run (or map of the same representation) is still being computed."""


def settings_snapshot() -> dict:
    """What shapes the rankings besides the vectors: boost, pool, modality and feature weights
    (those as materialised: the vectors being evaluated were built with them)."""
    settings = SearchSettings.load()
    snapshot = {
        "genre_boost": settings.genre_boost,
        "candidate_pool_factor": settings.candidate_pool_factor,
    }
    stats = FeatureStats.objects.filter(pk=1).first()
    if stats is not None:
        names = dict(FeatureDefinition.objects.values_list("position", "name"))
        snapshot["audio_weight"] = stats.audio_weight
        snapshot["visual_weight"] = stats.visual_weight
        snapshot["feature_weights"] = {
            names.get(i, str(i)): float(w)
            for i, w in enumerate(stats.feature_weights)
            if float(w) != 1.0
        }
    return snapshot


def create_run(parameters: dict, *, allow_concurrent: bool = False) -> EvaluationRun:
    """A queued run with these ``evaluate`` keyword arguments (validated by the caller)."""
    if not allow_concurrent:
        running = runs_in_progress()
        if running:
            raise WorkInProgress(
                f"{running[0]} is still in progress ({running[0].progress:.0%}); wait for it "
                "to finish before starting another."
            )
    if not searchable_videos().exists():
        raise EmptyCatalog("The catalog has no ready videos to evaluate.")
    version = active_model_version()
    return EvaluationRun.objects.create(
        parameters=parameters,
        model_version=version,
        model_name=str(version) if version else "",
        settings=settings_snapshot(),
    )


def enqueue_run(parameters: dict) -> EvaluationRun:
    """Create a run and queue its job (after the commit); refuses while one is in progress,
    and (QueueUnavailable) stores nothing when Redis is down."""
    require_queue()
    with transaction.atomic():
        run = create_run(parameters)
        run.job_id = enqueue_on_commit(
            QUEUE_DEFAULT, "evaluation.jobs.evaluate_job", run.pk, job_timeout=3600
        )
        run.save(update_fields=["job_id"])
    return run


class _ProgressWriter:
    """Writes progress onto a row at most once a second (and always the last call)."""

    def __init__(self, model, pk: int) -> None:
        self.model, self.pk, self.last = model, pk, 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and done < total:
            return
        self.last = now
        self.model.objects.filter(pk=self.pk).update(
            progress=done / total if total else 1.0,
            progress_label=label[:100],
            updated_at=timezone.now(),
        )


def _start(work) -> None:
    work.status, work.started_at, work.progress = WorkStatus.RUNNING, timezone.now(), 0.0
    work.save(update_fields=["status", "started_at", "progress", "updated_at"])


def _fail(work, exc: BaseException) -> None:
    work.status, work.finished_at = WorkStatus.FAILED, timezone.now()
    work.error = f"{type(exc).__name__}: {exc}"[:2000]
    work.save(update_fields=["status", "finished_at", "error", "updated_at"])
    logger.warning("%s failed: %s", work, work.error)


def execute_run(run: EvaluationRun, progress=None) -> EvaluationReport:
    """Compute ``run``'s figures and store them; on any error the run is marked failed with
    the reason (and the error re-raised). ``progress(done, total, label)`` is called too."""
    _start(run)
    writer = _ProgressWriter(EvaluationRun, run.pk)

    def report_progress(done: int, total: int, label: str) -> None:
        writer(done, total, label)
        if progress:
            progress(done, total, label)

    try:
        report = evaluate(**run.parameters, progress=report_progress)
    except BaseException as exc:
        _fail(run, exc)
        raise
    run.figures = report.to_dict()
    run.catalog_size = report.catalog_size
    run.status, run.progress, run.finished_at = WorkStatus.DONE, 1.0, timezone.now()
    run.save()
    logger.info("%s done in %.1f s", run, report.seconds)
    return report


# --------------------------------------------------------------------------- maps


def create_map(parameters: MapParameters) -> CatalogMap:
    running = maps_in_progress(parameters.representation)
    if running:
        raise WorkInProgress(
            f"{running[0]} is still being computed ({running[0].progress:.0%}); wait for it."
        )
    return CatalogMap.objects.create(
        representation=parameters.representation,
        metric=parameters.metric,
        method=parameters.method,
    )


def enqueue_map(parameters: MapParameters) -> CatalogMap:
    require_queue()
    with transaction.atomic():
        catalog_map = create_map(parameters)
        catalog_map.job_id = enqueue_on_commit(
            QUEUE_DEFAULT, "evaluation.jobs.map_job", catalog_map.pk, job_timeout=3600
        )
        catalog_map.save(update_fields=["job_id"])
    return catalog_map


def execute_map(catalog_map: CatalogMap, progress=None) -> CatalogMap:
    """Compute the layout and store every position and the display sample in one transaction
    (a failed map keeps no points)."""
    _start(catalog_map)
    writer = _ProgressWriter(CatalogMap, catalog_map.pk)

    def report_progress(done: int, total: int, label: str) -> None:
        writer(done, total, label)
        if progress:
            progress(done, total, label)

    parameters = MapParameters(catalog_map.representation, catalog_map.metric, catalog_map.method)
    try:
        layout = compute_layout(parameters, progress=report_progress)
        with transaction.atomic():
            MapPoint.objects.bulk_create(
                (
                    MapPoint(
                        catalog_map_id=catalog_map.pk, video_id=int(vid), x=float(x), y=float(y)
                    )
                    for vid, x, y in zip(layout.ids, layout.xy[:, 0], layout.xy[:, 1], strict=True)
                ),
                batch_size=5000,
            )
            catalog_map.display = layout.display
            catalog_map.n_videos = len(layout.ids)
            catalog_map.status, catalog_map.progress = WorkStatus.DONE, 1.0
            catalog_map.finished_at = timezone.now()
            catalog_map.save()
    except BaseException as exc:
        _fail(catalog_map, exc)
        raise
    return catalog_map
