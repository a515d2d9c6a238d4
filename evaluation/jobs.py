"""RQ jobs of the default queue for evaluation runs and catalog maps (progress on the row)."""

from __future__ import annotations

from evaluation.models import CatalogMap, EvaluationRun, WorkStatus
from evaluation.services import execute_map, execute_run
from mvsite.queues import set_progress


def evaluate_job(run_id: int) -> str:
    run = EvaluationRun.objects.filter(pk=run_id).first()
    if run is None or run.status != WorkStatus.QUEUED:
        return f"run {run_id}: nothing to do (gone or already started)"
    execute_run(run, progress=set_progress)
    return f"run {run_id} done"


def map_job(map_id: int) -> str:
    catalog_map = CatalogMap.objects.filter(pk=map_id).first()
    if catalog_map is None or catalog_map.status != WorkStatus.QUEUED:
        return f"map {map_id}: nothing to do (gone or already started)"
    execute_map(catalog_map, progress=set_progress)
    return f"map {map_id} done"
