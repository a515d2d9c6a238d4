"""RQ jobs of the search app: thin wrappers that call services with job progress."""

from __future__ import annotations

from mvsite.queues import set_progress
from search.materialize import run_materialization


def rematerialize(run_id: int | None = None) -> int:
    """Refit the standardisation stats and rewrite every feature vector (default queue).

    Progress ({done, total, stage}) is in job.meta; returns the number of videos written.
    """
    return run_materialization(run_id, progress=set_progress)
