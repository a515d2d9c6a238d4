"""Smooth playlist orders (pure NumPy; no database).

- ``greedy_path(vectors, start)``: start at ``start`` and repeatedly step to the nearest video
  not yet played (the nearest-neighbour heuristic of the travelling salesman problem: each step
  is short, the walk never jumps back).
- ``greedy_path(vectors, start, end)``: the same walk over every video but ``end``, which is
  appended last; each step also prefers videos nearer to ``end`` (distance to the candidate +
  ``pull`` x how much closer to ``end`` the walk would get), so the walk drifts from A towards
  B instead of wandering off and jumping to B at the end.

Distances: cosine (as the chord between unit vectors) or Euclidean, all pairs at once
(n <= 1000: a 1000 x 1000 matrix).
"""

from __future__ import annotations

import numpy as np

END_PULL = 0.5


def pairwise(vectors: np.ndarray, metric: str) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        unit = rows / np.where(norms > 0, norms, 1.0)
        # The chord |u - v| = sqrt(2 (1 - cos)): the same order of neighbours as the cosine
        # distance, but a metric, so the pull towards the end measures real progress.
        return np.sqrt(np.clip(2.0 - 2.0 * (unit @ unit.T), 0.0, 4.0))
    squared = (rows**2).sum(1)
    return np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * rows @ rows.T, 0.0))


def greedy_path(
    vectors: np.ndarray, start: int = 0, end: int | None = None, metric: str = "cosine"
) -> list[int]:
    """Indices of ``vectors`` in walking order, from ``start`` (and ending at ``end``)."""
    n = len(vectors)
    if n == 0:
        return []
    dist = pairwise(vectors, metric)
    left = np.ones(n, dtype=bool)
    left[start] = False
    if end is not None and end != start:
        left[end] = False
    order = [start]
    current = start
    for _ in range(int(left.sum())):
        cost = dist[current].copy()
        if end is not None and end != start:
            # Progress towards the end: negative when the step gets closer to it.
            cost += END_PULL * (dist[:, end] - dist[current, end])
        cost[~left] = np.inf
        current = int(np.argmin(cost))
        left[current] = False
        order.append(current)
    if end is not None and end != start:
        order.append(end)
    return order
