"""Helpers for the search tests: a small catalog with raw features, and an independent NumPy
reference of the standardised + weighted vectors (written from the spec, not from the code)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from django.db import connection

from catalog.models import Video
from features.models import AUDIO_DIM, BOTH_DIM, VISUAL_DIM, FeatureDefinition
from tests.factories import (
    DEFAULT_MUSIC_MODEL,
    VideoFactory,
    VideoFeaturesFactory,
    VideoVectorFactory,
    add_segments,
    ensure_feature_definitions,
)

__all__ = [
    "add_segments",
    "add_video",
    "brute_force",
    "ensure_definitions",
    "feature_weights",
    "make_catalog",
    "pool_limits",
    "raw_features",
    "reference_vectors",
]

# The 422 FeatureDefinition rows (an earlier transactional test may have flushed them).
ensure_definitions = ensure_feature_definitions


def raw_features(n: int, seed: int = 0) -> np.ndarray:
    """(n, 422) float32 raw features with wildly different per-feature offsets and scales,
    like the real ones (energies vs histogram bins), so standardisation matters."""
    rng = np.random.default_rng(seed)
    scale = 10 ** rng.uniform(-2, 2, BOTH_DIM)
    offset = rng.normal(0, 5, BOTH_DIM) * scale
    return (offset + scale * rng.standard_normal((n, BOTH_DIM))).astype(np.float32)


def add_video(
    raw: np.ndarray,
    *,
    code: np.ndarray | None = None,
    music: np.ndarray | None = None,
    music_tags: np.ndarray | None = None,
    music_model: str = DEFAULT_MUSIC_MODEL,
    **fields,
) -> Video:
    """A ready video whose features are this raw (422,) row (and music embedding): one
    VideoFeatures row, no segments; with ``code``, a VideoVector holding only the code."""
    fields.setdefault("title", "v")
    video = VideoFactory(**fields)
    VideoFeaturesFactory(
        video=video,
        segment_count=1,
        audio_mean=np.asarray(raw[:AUDIO_DIM], np.float32),
        visual_mean=np.asarray(raw[AUDIO_DIM:], np.float32),
        music_mean=None if music is None else np.asarray(music, np.float32),
        music_tags=None if music_tags is None else np.asarray(music_tags, np.float32),
        music_model=music_model if music is not None else "",
    )
    if code is not None:
        VideoVectorFactory(video=video, audio=None, visual=None, code=code)
    return video


def make_catalog(n: int, seed: int = 0, **fields) -> tuple[list[Video], np.ndarray]:
    raw = raw_features(n, seed)
    codes = np.random.default_rng(seed + 1).standard_normal((n, 40)).astype(np.float32)
    videos = [add_video(raw[i], code=codes[i], title=f"v{i}", **fields) for i in range(n)]
    return videos, raw


def feature_weights() -> np.ndarray:
    weights = np.ones(BOTH_DIM)
    for position, weight in FeatureDefinition.objects.values_list("position", "weight"):
        weights[position] = weight
    return weights


def reference_vectors(
    raw: np.ndarray,
    fit_rows: np.ndarray,
    weights: np.ndarray,
    audio_weight: float = 1.0,
    visual_weight: float = 1.0,
) -> dict[str, np.ndarray]:
    """audio/visual/both for every row of ``raw``; stats from ``fit_rows`` (population std)."""
    raw = raw.astype(np.float64)
    fit = fit_rows.astype(np.float64)
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (raw - mean) / std * weights
    audio = z[:, :AUDIO_DIM] / np.sqrt(AUDIO_DIM)
    visual = z[:, AUDIO_DIM:] / np.sqrt(VISUAL_DIM)
    both = np.hstack([audio * audio_weight, visual * visual_weight])
    assert visual.shape[1] == VISUAL_DIM
    return {"audio": audio, "visual": visual, "both": both}


def brute_force(
    matrix: np.ndarray, query: np.ndarray, metric: str, ids: list[int], k: int
) -> list[tuple[int, float]]:
    """Exact k-NN by (distance, id)."""
    matrix = matrix.astype(np.float64)
    query = query.astype(np.float64)
    if metric == "euclidean":
        dist = np.linalg.norm(matrix - query, axis=1)
    else:
        dist = 1 - matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    order = sorted(range(len(ids)), key=lambda i: (dist[i], ids[i]))[:k]
    return [(ids[i], float(dist[i])) for i in order]


@contextmanager
def statements_sent() -> Iterator[list[tuple[str, dict]]]:
    """Every statement the connection executes in the block, with its parameters, as written
    (the query log shows server-side-bound statements with $n placeholders and no values)."""
    sent: list[tuple[str, dict]] = []

    def record(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield sent


def pool_limits(sent: list[tuple[str, dict]]) -> list[int]:
    """The LIMIT of the k-NN pool of each search statement in ``statements_sent``, in order."""
    return [int(re.search(r"LIMIT (\d+)\)", sql).group(1)) for sql, _ in sent if "<=>" in sql]
