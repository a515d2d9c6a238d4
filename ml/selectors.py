"""Read-side queries of the ml app: segment sequences, the active model."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from features.models import BOTH_DIM, Segment, VideoFeatures
from ml.models import ModelVersion


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def segment_sequences(video_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """{video id: (n_segments, 422) float32 audio+visual in segment order}; videos without
    segments are absent."""
    rows = (
        Segment.objects.filter(video_id__in=list(video_ids))
        .order_by("video_id", "index")
        .values_list("video_id", "audio", "visual")
    )
    grouped: dict[int, list[np.ndarray]] = {}
    for video_id, audio, visual in rows.iterator(chunk_size=2000):
        grouped.setdefault(video_id, []).append(
            np.concatenate([np.asarray(audio, np.float32), np.asarray(visual, np.float32)])
        )
    return {
        video_id: np.stack(parts).reshape(len(parts), BOTH_DIM)
        for video_id, parts in grouped.items()
    }


def encodable_video_ids() -> list[int]:
    """Every video with extracted segments (catalog and earlier queries), in id order."""
    return list(VideoFeatures.objects.order_by("video_id").values_list("video_id", flat=True))
