"""Tests for the ml package (no database needed). Shared synthetic-data helper below."""

from __future__ import annotations

import numpy as np

from ml.dataset import N_FEATURES


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
