"""Write-side operations of the ml app: training a model version, encoding with it."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.files.storage import Storage
from django.utils import timezone

from catalog.selectors import catalog_videos
from ml.dataset import INPUT_FEATURES, INPUT_MUSIC, INPUT_WIDTHS, TrainingDataError
from ml.inference import LoadedModel, cached, load_cached
from ml.models import ModelVersion
from ml.selectors import active_model_version, music_coverage, segment_sequences
from ml.training import TrainingResult, train_composite
from mvsite.storage import (
    artifact_storage,
    describe,
    local_copy,
    local_path,
    media_storage,
    store_file,
)

logger = logging.getLogger(__name__)

MODELS_DIR = "models"
AUTO_INPUTS = "auto"
INPUT_CHOICES = (AUTO_INPUTS, *INPUT_WIDTHS)


class EncodingUnavailable(RuntimeError):
    """Encoding cannot be queued; the message is shown to the editor."""


@dataclass(frozen=True)
class Encoding:
    """One video put through the active model: its code and most likely genre."""

    video_id: int
    code: np.ndarray  # (code_dim,) float32
    genre: str
    confidence: float


@dataclass
class EncodedBatch:
    encodings: list[Encoding]
    skipped: list[int]  # videos without segments
    done: int  # videos looked at so far, this batch included
    total: int


def load_model(version: ModelVersion) -> LoadedModel:
    """The version's model, loaded once per process (TensorFlow is imported at this call).

    Its files come from the artifacts storage (mvsite/storage.py): read in place on local disk;
    from another storage fetched into a temporary folder for the load and deleted after it
    (the loaded model stays in memory: a worker fetches each version once)."""
    storage = artifact_storage()
    names = (version.model_path, version.scaler_path, version.labels_path)
    paths = [local_path(storage, name) for name in names]
    if all(path is not None for path in paths):
        return load_cached(*paths)
    return cached((describe(storage), *names), lambda: _load_copies(storage, names))


def _load_copies(storage: Storage, names: tuple[str, str, str]) -> LoadedModel:
    with ExitStack() as stack:
        paths = [stack.enter_context(local_copy(storage, name)) for name in names]
        return LoadedModel.load(*paths)


def _store_artifacts(result: TrainingResult, folder: str) -> dict[str, str]:
    """Put a training's files into storage under ``folder``: what workers load into the
    artifacts storage, the plots pages show into the media storage. Returns the names."""
    artifacts, media = artifact_storage(), media_storage()
    where = {
        "model_path": (artifacts, result.model_path),
        "scaler_path": (artifacts, result.scaler_path),
        "labels_path": (artifacts, result.labels_path),
        "report_path": (artifacts, result.report_path),
        "history_plot_path": (media, result.history_plot_path),
        "confusion_plot_path": (media, result.confusion_plot_path),
    }
    return {
        field: store_file(storage, f"{folder}/{Path(path).name}", Path(path))
        for field, (storage, path) in where.items()
    }


def encode_batches(
    video_ids: list[int], version: ModelVersion | None = None, *, batch_size: int = 256
) -> Iterator[EncodedBatch]:
    """Codes and predicted genres of these videos with the (active) model, batch by batch.

    Computes only: the search app stores codes, the catalog the predicted genres.
    """
    version = version or active_model_version()
    if version is None:
        raise EncodingUnavailable("No active model: train one with `manage.py train --activate`.")
    model = load_model(version)
    inputs = model_inputs(version)
    for start in range(0, len(video_ids), batch_size):
        batch = video_ids[start : start + batch_size]
        sequences = segment_sequences(batch, inputs)
        ids = [video_id for video_id in batch if video_id in sequences]
        encodings: list[Encoding] = []
        if ids:
            codes, probabilities = model.encode([sequences[video_id] for video_id in ids])
            for video_id, code, probs in zip(ids, codes, probabilities, strict=True):
                best = int(probs.argmax())
                encodings.append(Encoding(video_id, code, model.labels[best], float(probs[best])))
        yield EncodedBatch(
            encodings=encodings,
            skipped=[video_id for video_id in batch if video_id not in sequences],
            done=min(start + batch_size, len(video_ids)),
            total=len(video_ids),
        )


def model_inputs(version: ModelVersion) -> str:
    """What the version reads per segment (models from before music embeddings: features)."""
    return (version.config or {}).get("inputs", INPUT_FEATURES)


def _labelled() -> dict[int, str]:
    videos = (
        catalog_videos()
        .filter(genre__isnull=False, features__isnull=False)
        .order_by("pk")
        .values_list("pk", "genre__name")
    )
    return dict(videos)


def choose_inputs(requested: str = AUTO_INPUTS) -> tuple[str, str]:
    """(inputs, why): ``auto`` is "music" when every labelled video has music embeddings
    (they separate genres best, docs/benchmarks.md), else "features", saying how to fix it."""
    if requested != AUTO_INPUTS:
        if requested not in INPUT_WIDTHS:
            raise TrainingDataError(
                f"unknown inputs {requested!r}: choose one of {', '.join(INPUT_CHOICES)}"
            )
        return requested, "as asked"
    with_segments, with_music = music_coverage(_labelled())
    if with_segments and with_music == with_segments:
        return INPUT_MUSIC, "every labelled video has music embeddings"
    missing = with_segments - with_music
    return INPUT_FEATURES, (
        f"{missing} labelled video(s) lack music embeddings; add them with "
        "`manage.py extract --only music --pending` to train on music"
    )


def training_set(inputs: str = INPUT_FEATURES) -> tuple[list[int], list, list[str]]:
    """Catalog videos with a curated genre and the inputs' segments: (ids, sequences, labels)."""
    labels_by_id = _labelled()
    sequences = segment_sequences(labels_by_id, inputs)
    ids = [video_id for video_id in labels_by_id if video_id in sequences]
    return ids, [sequences[i] for i in ids], [labels_by_id[i] for i in ids]


def train_model(
    *,
    epochs: int = 100,
    val_fraction: float = 0.2,
    seed: int = 42,
    name: str = "",
    verbose: int = 1,
    on_epoch_end=None,
    inputs: str = AUTO_INPUTS,
    **overrides,
) -> ModelVersion:
    """Train on the curated catalog and register a (not yet active) ModelVersion.

    ``inputs``: what the network reads per segment (see :func:`choose_inputs`). Activation
    re-encodes every video, which the pipeline does (pipeline.services).

    Raises ml.dataset.TrainingDataError (nothing written) when the labelled set is unusable.
    """
    inputs, why = choose_inputs(inputs)
    logger.info("training on %s (%s)", inputs, why)
    ids, sequences, labels = training_set(inputs)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = f"{MODELS_DIR}/{stamp}"
    # Keras writes paths: train into a temporary folder, then store the files (on local
    # storage they land in MEDIA_ROOT/models/<stamp>/ as before).
    with tempfile.TemporaryDirectory(prefix="mvsim-train-") as work:
        result = train_composite(
            sequences,
            labels,
            out_dir=work,
            epochs=epochs,
            val_fraction=val_fraction,
            seed=seed,
            progress_verbose=verbose,
            on_epoch_end=on_epoch_end,
            inputs=inputs,
            **overrides,
        )
        stored = _store_artifacts(result, folder)
    version = ModelVersion.objects.create(
        name=name or f"composite {stamp}",
        artifact_dir=folder,
        model_path=stored["model_path"],
        scaler_path=stored["scaler_path"],
        labels_path=stored["labels_path"],
        history_plot_path=stored["history_plot_path"],
        confusion_plot_path=stored["confusion_plot_path"],
        genres=result.labels,
        metrics={
            **result.metrics,
            "skipped_video_ids": [ids[i] for i in result.skipped],
            # The held-out videos: what `evaluate` judges the learned code on.
            "val_video_ids": [ids[i] for i in result.val_indices],
            "inputs_reason": why,
        },
        history=result.history,
        config=result.config,
    )
    return version
