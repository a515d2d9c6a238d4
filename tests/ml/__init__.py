"""Tests for the ml package. Shared synthetic-data helpers below: sequences (no database)
and a catalog of ready videos whose segments separate by genre."""

from __future__ import annotations

import numpy as np

from catalog.models import Video
from features.models import BOTH_DIM
from ml.dataset import N_FEATURES
from tests.factories import GenreFactory, ready_video


def make_sequences(
    n_per_class: int = 12,
    n_classes: int = 3,
    *,
    min_len: int = 4,
    max_len: int = 30,
    separation: float = 1.5,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[str]]:
    """Small, clearly separable data: each genre has its own mean vector, plus noise."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, N_FEATURES)) * separation
    sequences: list[np.ndarray] = []
    labels: list[str] = []
    for c in range(n_classes):
        for _ in range(n_per_class):
            n = int(rng.integers(min_len, max_len + 1))
            sequences.append((means[c] + rng.normal(size=(n, N_FEATURES))).astype(np.float32))
            labels.append(f"genre-{c}")
    return sequences, labels


def separable_catalog(
    genres: tuple[str, ...] = ("Blues", "Metal", "Jazz"),
    per_genre: int = 6,
    *,
    segments: int | None = None,
    seed: int = 0,
) -> list[Video]:
    """Ready videos with separable segment features: each genre shifts a different block of
    20 features by 3. ``segments`` per video (None: 3 to 7 at random); features are the
    segments' means; no search vectors (training and encoding write the codes)."""
    rng = np.random.default_rng(seed)
    videos = []
    for g, name in enumerate(genres):
        genre = GenreFactory(name=name)
        for _ in range(per_genre):
            n = int(rng.integers(3, 8)) if segments is None else segments
            matrix = rng.normal(size=(n, BOTH_DIM)).astype(np.float32)
            matrix[:, g * 20 : g * 20 + 20] += 3.0
            videos.append(ready_video(matrix, vectors=False, genre=genre))
    return videos
