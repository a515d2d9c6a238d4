"""python manage.py train [--epochs N] [--val-split F] [--inputs WHAT] [--activate]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ml.dataset import TrainingDataError
from ml.services import AUTO_INPUTS, INPUT_CHOICES, train_model
from pipeline.catalog_work import activate_model


class Command(BaseCommand):
    help = (
        "Train the composite LSTM autoencoder + genre classifier on the curated catalog, "
        "record a ModelVersion (artifacts, metrics, plots) and, with --activate, encode every "
        "video with it (in this process: no worker needed)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=100, help="maximum epochs (1-1000)")
        parser.add_argument("--val-split", type=float, default=0.2, help="validation fraction")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--name", default="", help="a name for this version")
        parser.add_argument("--activate", action="store_true", help="activate and encode all")
        parser.add_argument(
            "--inputs",
            choices=INPUT_CHOICES,
            default=AUTO_INPUTS,
            help="what the network reads per segment: music (MusiCNN embeddings), features "
            "(the 422 audio + visual features), features+music, or auto (music when every "
            "labelled video has it, else features)",
        )

    def handle(self, *args, epochs, val_split, seed, name, activate, inputs, **options) -> None:
        if not 1 <= epochs <= 1000:
            raise CommandError("--epochs must be between 1 and 1000")
        if not 0.05 <= val_split <= 0.5:
            raise CommandError("--val-split must be between 0.05 and 0.5")
        quiet = options["verbosity"] == 0

        def epoch_line(epoch: int, logs: dict) -> None:
            if quiet:
                return
            parts = [f"epoch {epoch}/{epochs}"]  # Keras callback epochs count from 1 here
            for key, label in (("loss", "loss"), ("val_loss", "val loss")):
                if key in logs:
                    parts.append(f"{label} {logs[key]:.4f}")
            accuracy = next(
                (v for k, v in logs.items() if k.startswith("val_") and "acc" in k), None
            )
            if accuracy is not None:
                parts.append(f"val accuracy {accuracy:.1%}")
            self.stdout.write(", ".join(parts))

        try:
            version = train_model(
                epochs=epochs,
                val_fraction=val_split,
                seed=seed,
                name=name,
                verbose=0,  # Keras' per-step bars: one line per epoch instead
                on_epoch_end=epoch_line,
                inputs=inputs,
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from None
        metrics = version.metrics
        self.stdout.write(
            f"model version {version.pk}: validation accuracy {metrics.get('val_accuracy', 0):.1%}"
            f" (baseline {metrics.get('baseline_val_accuracy', 0):.1%}), "
            f"{metrics.get('epochs_run', '?')} epochs, artifacts in MEDIA/{version.artifact_dir}"
        )
        self.stdout.write(
            f"inputs: {version.config.get('inputs')} ({metrics.get('inputs_reason', '')}); "
            f"validated on {metrics.get('n_val', '?')} held-out videos"
        )
        skipped = metrics.get("skipped_video_ids") or []
        if skipped:
            self.stdout.write(f"skipped (no segments): {', '.join(map(str, skipped))}")
        if not activate:
            self.stdout.write("active: no")
            return
        with tqdm(unit="video", desc="encode", disable=quiet) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            summary = activate_model(version, progress=progress)
        self.stdout.write(f"active: yes, {summary.encoded} videos encoded")
