"""Write-side operations of the ml app: training a model version, encoding with it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from catalog.selectors import catalog_videos
from ml.dataset import INPUT_FEATURES, INPUT_MUSIC, INPUT_WIDTHS, TrainingDataError
from ml.inference import load_cached
from ml.models import ModelVersion
from ml.selectors import active_model_version, music_coverage, segment_sequences
from ml.training import train_composite

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


def _media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def _relative(path: Path | str) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def load_model(version: ModelVersion):
    """The version's model, loaded once per process (TensorFlow is imported at this call)."""
    return load_cached(
        _media_path(version.model_path),
        _media_path(version.scaler_path),
        _media_path(version.labels_path),
    )


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
    out_dir = _media_path(f"{MODELS_DIR}/{stamp}")
    result = train_composite(
        sequences,
        labels,
        out_dir=out_dir,
        epochs=epochs,
        val_fraction=val_fraction,
        seed=seed,
        progress_verbose=verbose,
        on_epoch_end=on_epoch_end,
        inputs=inputs,
        **overrides,
    )
    version = ModelVersion.objects.create(
        name=name or f"composite {stamp}",
        artifact_dir=_relative(out_dir),
        model_path=_relative(result.model_path),
        scaler_path=_relative(result.scaler_path),
        labels_path=_relative(result.labels_path),
        history_plot_path=_relative(result.history_plot_path),
        confusion_plot_path=_relative(result.confusion_plot_path),
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
