"""python manage.py train [--epochs N] [--val-split F] [--activate]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class Command(BaseCommand):
    help = (
        "Train the composite LSTM autoencoder + genre classifier on the curated catalog, "
        "record a ModelVersion (artifacts, metrics, plots) and, with --activate, encode every "
        "video with it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=100, help="maximum epochs (1-1000)")
        parser.add_argument("--val-split", type=float, default=0.2, help="validation fraction")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--name", default="", help="a name for this version")
        parser.add_argument("--activate", action="store_true", help="activate and encode all")

    def handle(self, *args, epochs, val_split, seed, name, activate, **options) -> None:
        from ml.dataset import TrainingDataError
        from ml.services import train_model

        if not 1 <= epochs <= 1000:
            raise CommandError("--epochs must be between 1 and 1000")
        if not 0.05 <= val_split <= 0.5:
            raise CommandError("--val-split must be between 0.05 and 0.5")
        bar: dict = {}

        def encode_progress(done: int, total: int) -> None:
            if "encode" not in bar:
                bar["encode"] = tqdm(total=total, unit="video", desc="encode")
            bar["encode"].n = done
            bar["encode"].refresh()

        try:
            version = train_model(
                epochs=epochs,
                val_fraction=val_split,
                seed=seed,
                activate=activate,
                name=name,
                verbose=1 if options["verbosity"] >= 1 else 0,
                encode_progress=encode_progress,
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if "encode" in bar:
                bar["encode"].close()
        metrics = version.metrics
        self.stdout.write(
            f"model version {version.pk}: validation accuracy {metrics.get('val_accuracy', 0):.1%}"
            f" (baseline {metrics.get('baseline_val_accuracy', 0):.1%}), "
            f"{metrics.get('epochs_run', '?')} epochs, artifacts in MEDIA/{version.artifact_dir}"
        )
        skipped = metrics.get("skipped_video_ids") or []
        if skipped:
            self.stdout.write(f"skipped (no segments): {', '.join(map(str, skipped))}")
        self.stdout.write("active: yes, catalog encoded" if activate else "active: no")
