"""Read-side queries of the ml app: segment sequences, the active model."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from features.models import MUSIC_DIM, Segment, VideoFeatures
from ml.dataset import INPUT_FEATURES, INPUT_FEATURES_MUSIC, INPUT_MUSIC, input_width
from ml.models import ModelVersion


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def segment_sequences(
    video_ids: Iterable[int], inputs: str = INPUT_FEATURES
) -> dict[int, np.ndarray]:
    """{video id: (n_segments, width) float32 in segment order} for a model reading ``inputs``
    (ml.dataset.INPUT_WIDTHS). Absent: videos without segments and, for "music", videos with
    a segment without a music embedding (no audio, or extracted before MusiCNN); for
    "features+music" such a segment gets a zero music block, as `both` does."""
    width = input_width(inputs)
    columns = {
        INPUT_FEATURES: ("audio", "visual"),
        INPUT_MUSIC: ("music",),
        INPUT_FEATURES_MUSIC: ("audio", "visual", "music"),
    }[inputs]
    rows = (
        Segment.objects.filter(video_id__in=list(video_ids))
        .order_by("video_id", "index")
        .values_list("video_id", *columns)
    )
    grouped: dict[int, list[np.ndarray]] = {}
    incomplete: set[int] = set()
    for video_id, *values in rows.iterator(chunk_size=2000):
        if inputs == INPUT_MUSIC and values[0] is None:
            incomplete.add(video_id)
            continue
        if inputs == INPUT_FEATURES_MUSIC and values[2] is None:
            values[2] = np.zeros(MUSIC_DIM, np.float32)
        grouped.setdefault(video_id, []).append(
            np.concatenate([np.asarray(v, np.float32) for v in values])
        )
    return {
        video_id: np.stack(parts).reshape(len(parts), width)
        for video_id, parts in grouped.items()
        if video_id not in incomplete
    }


def music_coverage(video_ids: Iterable[int]) -> tuple[int, int]:
    """(videos with segments, of which every segment has a music embedding)."""
    ids = list(video_ids)
    with_segments = set(
        Segment.objects.filter(video_id__in=ids).values_list("video_id", flat=True).distinct()
    )
    lacking = set(
        Segment.objects.filter(video_id__in=ids, music__isnull=True)
        .values_list("video_id", flat=True)
        .distinct()
    )
    return len(with_segments), len(with_segments - lacking)


def encodable_video_ids() -> list[int]:
    """Every video with extracted segments (catalog and earlier queries), in id order."""
    return list(VideoFeatures.objects.order_by("video_id").values_list("video_id", flat=True))
