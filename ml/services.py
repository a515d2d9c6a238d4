"""Write-side operations of the ml app: training, activation, encoding."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Genre, Video
from ml.models import ModelVersion
from ml.selectors import active_model_version, segment_sequences

logger = logging.getLogger(__name__)

MODELS_DIR = "models"


class EncodingUnavailable(RuntimeError):
    """Encoding cannot be queued; the message is shown to the editor."""


@dataclass
class EncodeSummary:
    encoded: int = 0
    skipped: list[int] = field(default_factory=list)  # videos without segments


def _media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def _relative(path: Path | str) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def load_model(version: ModelVersion):
    """The version's model, loaded once per process (TensorFlow is imported only here)."""
    from ml.inference import load_cached

    return load_cached(
        _media_path(version.model_path),
        _media_path(version.scaler_path),
        _media_path(version.labels_path),
    )


def encode_videos(
    video_ids: list[int],
    version: ModelVersion | None = None,
    *,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> EncodeSummary:
    """Write 40-d codes and predicted genres of these videos with the (active) model."""
    from search.models import VideoVector

    version = version or active_model_version()
    if version is None:
        raise EncodingUnavailable("No active model: train one with `manage.py train --activate`.")
    model = load_model(version)
    summary = EncodeSummary()
    genres = {genre.name: genre for genre in Genre.objects.filter(name__in=model.labels)}
    for name in model.labels:
        if name not in genres:
            genres[name] = Genre.objects.get_or_create(name=name)[0]
    for start in range(0, len(video_ids), batch_size):
        batch = video_ids[start : start + batch_size]
        sequences = segment_sequences(batch)
        summary.skipped += [video_id for video_id in batch if video_id not in sequences]
        ids = [video_id for video_id in batch if video_id in sequences]
        if ids:
            codes, probabilities = model.encode([sequences[video_id] for video_id in ids])
            with transaction.atomic():
                for video_id, code, probs in zip(ids, codes, probabilities, strict=True):
                    best = int(probs.argmax())
                    VideoVector.objects.update_or_create(video_id=video_id, defaults={"code": code})
                    Video.objects.filter(pk=video_id).update(
                        predicted_genre=genres[model.labels[best]],
                        predicted_confidence=float(probs[best]),
                    )
            summary.encoded += len(ids)
        if progress:
            progress(min(start + batch_size, len(video_ids)), len(video_ids))
    return summary


def encode_catalog(version: ModelVersion | None = None, progress=None) -> EncodeSummary:
    """Encode every video that has segments (catalog and earlier queries)."""
    from features.models import VideoFeatures

    ids = list(VideoFeatures.objects.order_by("video_id").values_list("video_id", flat=True))
    return encode_videos(ids, version, progress=progress)


def training_set() -> tuple[list[int], list, list[str]]:
    """Catalog videos with a curated genre and extracted segments: (ids, sequences, labels)."""
    videos = (
        Video.objects.filter(is_query=False, genre__isnull=False, features__isnull=False)
        .order_by("pk")
        .values_list("pk", "genre__name")
    )
    labels_by_id = dict(videos)
    sequences = segment_sequences(labels_by_id)
    ids = [video_id for video_id in labels_by_id if video_id in sequences]
    return ids, [sequences[i] for i in ids], [labels_by_id[i] for i in ids]


def train_model(
    *,
    epochs: int = 100,
    val_fraction: float = 0.2,
    seed: int = 42,
    activate: bool = False,
    name: str = "",
    verbose: int = 1,
    on_epoch_end=None,
    encode_progress=None,
    **overrides,
) -> ModelVersion:
    """Train on the curated catalog, register a ModelVersion, optionally activate + encode.

    Raises ml.dataset.TrainingDataError (nothing written) when the labelled set is unusable.
    """
    from ml.training import train_composite

    ids, sequences, labels = training_set()
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
        metrics={**result.metrics, "skipped_video_ids": [ids[i] for i in result.skipped]},
        history=result.history,
        config=result.config,
    )
    if activate:
        activate_version(version, progress=encode_progress)
    return version


def activate_version(version: ModelVersion, progress=None) -> EncodeSummary:
    """Make this the active model and re-encode every video with it."""
    version.activate()
    return encode_catalog(version, progress=progress)


def activate_and_reencode(version: ModelVersion) -> str:
    """Activate a version now and queue re-encoding of every video with it (admin action).

    Codes of different versions live in different spaces, so all of them are rewritten.
    """
    from features.models import VideoFeatures
    from mvsite.queues import QUEUE_DEFAULT, enqueue_on_commit

    with transaction.atomic():
        version.activate()
        ids = list(VideoFeatures.objects.order_by("video_id").values_list("video_id", flat=True))
        return enqueue_on_commit(QUEUE_DEFAULT, "ml.jobs.encode_many", ids, job_timeout=3600)


def request_encoding(video_ids: list[int]) -> int:
    """Queue encoding of these videos with the active model (admin action)."""
    from mvsite.queues import QUEUE_DEFAULT, enqueue_on_commit

    if active_model_version() is None:
        raise EncodingUnavailable(
            "No active model yet: train one first (manage.py train --activate)."
        )
    enqueue_on_commit(QUEUE_DEFAULT, "ml.jobs.encode_many", list(video_ids))
    return len(video_ids)
