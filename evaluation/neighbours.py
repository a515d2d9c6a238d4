"""Exact k-NN over a whole catalog at once, with the search's own ranking rules.

``search.ranking.find_similar`` answers one query with one SQL statement (HNSW, a candidate
pool, the genre boost). Evaluating a catalog that way costs one round trip per query and
representation (~8 ms each: 200k queries for 10k videos x 5 representations x 2 metrics x 2
boosts would take half an hour). Here the same rules run on every query at once: distances by
blocked matrix products, the pool by ``argpartition``, then the boost re-rank —

- candidates: the catalog's ready videos with a vector in the representation, never the query
  itself nor a near-duplicate (same non-empty youtube_id or content_sha256), nor a video
  whose cosine distance is undefined (a zero vector);
- the pool: the ``pool_size`` nearest by (distance, id); with a boost < 1 and a query genre
  (predicted, else curated), same-genre candidates rank by distance x boost, ties by distance
  then id — ``ranked_statement``'s ORDER BY.

It is an exact scan, so it measures the ranking rules, not the HNSW approximation (whose
recall ``bench/search.py`` measures). ``tests/evaluation/test_neighbours.py`` checks that it
returns what ``find_similar(exact=True)`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NO_GROUP = -1  # "no value" in the integer-coded columns below
BLOCK_ROWS = 1024  # queries per distance block: 1024 x 100k float32 = 400 MB at most


@dataclass
class CatalogArrays:
    """A representation's searchable catalog as arrays, row i = one video (ordered by id)."""

    ids: np.ndarray  # int64 video ids, ascending
    vectors: np.ndarray  # float32 (n, d), as stored (materialised, weighted)
    genre: np.ndarray  # int64 curated genre id or NO_GROUP
    predicted: np.ndarray  # int64 predicted genre id or NO_GROUP
    youtube: np.ndarray  # int64 code of the youtube_id or NO_GROUP
    sha256: np.ndarray  # int64 code of the content hash or NO_GROUP
    artist: np.ndarray  # int64 code of the normalised artist name or NO_GROUP

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> CatalogArrays:
        return CatalogArrays(
            *(getattr(self, name)[rows] for name in self.__dataclass_fields__)  # type: ignore[arg-type]
        )


def group_codes(values: list[str]) -> np.ndarray:
    """Integer codes of strings, equal strings sharing a code; '' -> NO_GROUP."""
    codes: dict[str, int] = {}
    return np.array(
        [codes.setdefault(v, len(codes)) if v else NO_GROUP for v in values], dtype=np.int64
    )


@dataclass
class Pools:
    """For each query row: its candidate pool nearest first, and what a random pick would see."""

    queries: np.ndarray  # row index of each query in the catalog arrays
    rows: np.ndarray  # (n_queries, pool) candidate rows by (distance, id); NO_GROUP = none
    distances: np.ndarray  # (n_queries, pool) float64; inf where rows is NO_GROUP
    skipped: np.ndarray  # bool per query: no distance defined (zero vector under cosine)
    n_candidates: np.ndarray  # candidates left after the exclusions, per query
    n_same_genre: np.ndarray  # of those, with the query's curated genre


def _normalised(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(vectors, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return (vectors / safe[:, None]).astype(np.float32), norms > 0


def nearest_pools(
    catalog: CatalogArrays,
    queries: np.ndarray,
    metric: str,
    pool_size: int,
    *,
    exclude_artist: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Pools:
    """The ``pool_size`` nearest candidates of each query row (see the module docstring).

    ``exclude_artist``: also drop candidates by the query's (normalised, non-empty) artist.
    ``progress(n)`` is called after each block with the number of queries it finished.
    """
    n = len(catalog)
    queries = np.asarray(queries, dtype=np.int64)
    width = min(pool_size, n)
    rows = np.full((len(queries), pool_size), NO_GROUP, dtype=np.int64)
    distances = np.full((len(queries), pool_size), np.inf)
    skipped = np.zeros(len(queries), dtype=bool)
    n_candidates = np.zeros(len(queries), dtype=np.int64)
    n_same = np.zeros(len(queries), dtype=np.int64)
    if metric == "cosine":
        vectors, valid = _normalised(catalog.vectors)
    else:
        vectors, valid = catalog.vectors.astype(np.float32), np.ones(n, dtype=bool)
        squares = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
    for start in range(0, len(queries), BLOCK_ROWS):
        q = queries[start : start + BLOCK_ROWS]
        products = vectors[q] @ vectors.T  # float32 (b, n)
        if metric == "cosine":
            block = 1.0 - products.astype(np.float64)
        else:
            block = squares[q][:, None] + squares[None, :] - 2.0 * products
            np.sqrt(np.maximum(block, 0.0), out=block)
        allowed = valid[None, :].repeat(len(q), axis=0)
        allowed[np.arange(len(q)), q] = False
        for column in ("youtube", "sha256") + (("artist",) if exclude_artist else ()):
            codes = getattr(catalog, column)
            same = (codes[q][:, None] == codes[None, :]) & (codes[q][:, None] != NO_GROUP)
            allowed &= ~same
        block[~allowed] = np.inf
        genre = catalog.genre[q]
        n_candidates[start : start + len(q)] = allowed.sum(axis=1)
        n_same[start : start + len(q)] = (
            allowed & (catalog.genre[None, :] == genre[:, None]) & (genre[:, None] != NO_GROUP)
        ).sum(axis=1)
        skipped[start : start + len(q)] = ~valid[q]
        if width < n:
            part = np.argpartition(block, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(n), (len(q), n))
        part_d = np.take_along_axis(block, part, axis=1)
        # (distance, id) order; rows are ordered by id, so the row index breaks ties.
        order = np.lexsort((part, part_d), axis=1)
        part = np.take_along_axis(part, order, axis=1)
        part_d = np.take_along_axis(part_d, order, axis=1)
        part[~np.isfinite(part_d)] = NO_GROUP
        part[skipped[start : start + len(q)]] = NO_GROUP
        part_d[part == NO_GROUP] = np.inf
        rows[start : start + len(q), :width] = part
        distances[start : start + len(q), :width] = part_d
        if progress:
            progress(len(q))
    return Pools(queries, rows, distances, skipped, n_candidates, n_same)


def ranked(
    catalog: CatalogArrays, pools: Pools, k: int, boost: float
) -> tuple[np.ndarray, np.ndarray]:
    """The k results per query, as ``find_similar`` ranks them: (rows, distances), NO_GROUP/inf
    where fewer than k candidates exist. ``boost`` = 1 keeps the pool's order."""
    rows, distances = pools.rows, pools.distances
    if boost < 1:
        query_genre = np.where(
            catalog.predicted[pools.queries] != NO_GROUP,
            catalog.predicted[pools.queries],
            catalog.genre[pools.queries],
        )
        safe = np.where(rows == NO_GROUP, 0, rows)
        same = (
            (
                (catalog.genre[safe] == query_genre[:, None])
                | (catalog.predicted[safe] == query_genre[:, None])
            )
            & (query_genre[:, None] != NO_GROUP)
            & (rows != NO_GROUP)
        )
        boosted = np.where(same, distances * boost, distances)
        order = np.lexsort(
            (np.where(rows == NO_GROUP, np.iinfo(np.int64).max, rows), distances, boosted), axis=1
        )
        rows = np.take_along_axis(rows, order, axis=1)
        distances = np.take_along_axis(distances, order, axis=1)
    return rows[:, :k], distances[:, :k]
