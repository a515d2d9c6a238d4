"""Used by `dev.py run`: when the catalog is empty, build the demo catalog and queue training."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from catalog.demo_catalog import create_demo_catalog
from catalog.selectors import catalog_videos
from ml.selectors import active_model_version
from mvsite.queues import QUEUE_TRAIN, get_queue
from pipeline import catalog_work, services


class Command(BaseCommand):
    help = (
        "If the catalog is empty: generate the demo catalog, queue its processing, and queue "
        "training (which activates the model and re-encodes the catalog) for when every demo "
        "video is processed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--per-genre", type=int, default=int(os.environ.get("MVSIM_DEMO_PER_GENRE", "4"))
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, per_genre: int, seed: int, **options) -> None:
        if catalog_videos().exists():
            if active_model_version() is None and not get_queue(QUEUE_TRAIN).count:
                self.stdout.write("catalog present, no model yet: run `manage.py train --activate`")
            else:
                self.stdout.write("catalog present: nothing to bootstrap")
            return
        self.stdout.write(f"empty catalog: generating the demo catalog ({per_genre} per genre)")
        result = create_demo_catalog(per_genre, seed, on_created=services.start)
        job_id = catalog_work.queue_training(epochs=150, when_settled=True)
        self.stdout.write(
            f"queued {len(result.created)} demo videos and training once they are processed "
            f"(job {job_id}); the site shows progress meanwhile"
        )
