"""Used by `dev.py run`: when the catalog is empty, build the demo catalog and queue training."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand
from rq.job import Dependency

from catalog.selectors import catalog_videos
from ml.selectors import active_model_version
from mvsite.queues import QUEUE_TRAIN, get_queue


class Command(BaseCommand):
    help = (
        "If the catalog is empty: generate the demo catalog, queue its extraction, and queue "
        "training (which activates the model and encodes the catalog) after the extractions."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--per-genre", type=int, default=int(os.environ.get("MVSIM_DEMO_PER_GENRE", "4"))
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, per_genre: int, seed: int, **options) -> None:
        from catalog.demo_catalog import create_demo_catalog

        if catalog_videos().exists():
            if active_model_version() is None and not get_queue(QUEUE_TRAIN).count:
                self.stdout.write("catalog present, no model yet: run `manage.py train --activate`")
            else:
                self.stdout.write("catalog present: nothing to bootstrap")
            return
        self.stdout.write(f"empty catalog: generating the demo catalog ({per_genre} per genre)")
        result = create_demo_catalog(per_genre, seed)
        # Training waits for every extraction (failed ones too) before it starts.
        job = get_queue(QUEUE_TRAIN).enqueue(
            "ml.jobs.train",
            epochs=150,
            depends_on=Dependency(jobs=result.job_ids, allow_failure=True),
            job_timeout=3600,
            description="train on the demo catalog",
        )
        self.stdout.write(
            f"queued {len(result.job_ids)} extractions and training (job {job.id}); "
            "the site shows progress meanwhile"
        )
