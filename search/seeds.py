"""Several seeds: "more like these" from 2-10 videos, with optional negatives ("less like this").

Two methods (docs/search.md, "Several seeds"; measured by ``bench/seeds.py``):

- ``fusion`` (the default): each seed's own k-NN list through the HNSW index, merged by
  reciprocal rank fusion, ``score = sum over seeds of 1 / (60 + rank)``. Seeds from different
  clusters each bring their neighbours, so a tray of two styles returns both styles. All the
  seeds' lists come from one statement (``fused_statement``: a LATERAL k-NN per seed), so 5
  seeds are one round trip, not five.
- ``centroid``: one k-NN search from the seeds' centroid (cosine: the mean of the unit
  vectors; Euclidean: the mean), moved away from the negatives' centroid
  (``q = c + w (c - c_neg)``, ``w = NEGATIVE_WEIGHT``). One index scan, but the mean of two
  far-apart styles lies between them, where neither style is.

Negatives, in both methods: a candidate nearer to some negative than to every seed is dropped
(the candidate pool is three times larger so k rows survive). Seeds and negatives never come
back. Seeds and negatives may be catalog videos or ready query videos (earlier uploads and URLs);
candidates are ``ready`` catalog videos with a vector in the column. ``Match.distance``
is the distance to the centroid (centroid) or to the nearest seed (fusion); there is no genre
boost (the seeds have several genres), so ``boosted_distance == distance``.

Errors are ``InvalidSearchParameter`` naming ``seeds``, ``exclude``, ``representation``,
``metric``, ``k`` or ``method`` (the API turns them into 400s; nothing is stored).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection

from catalog.models import Video, VideoStatus
from search.choices import Metric, Pool
from search.models import REPRESENTATION_DIMS, SearchSettings, VideoVector
from search.ranking import (
    InvalidSearchParameter,
    Match,
    check_k,
    check_representation_and_metric,
    nearest_rows,
    similarity_score,
)
from search.sql import RELAXED, SINGLE_PASS, run_search

MAX_SEEDS = 10
MAX_EXCLUDE = 10
CENTROID, FUSION = "centroid", "fusion"
METHODS = (FUSION, CENTROID)
DEFAULT_METHOD = FUSION  # keeps the seeds' clusters far better (bench/seeds.py, docs/search.md)
NEGATIVE_WEIGHT = 0.5
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)
NEGATIVE_POOL_FACTOR = 3
ID_MAX = 2**63 - 1  # bigint: a larger "id" is no video


@dataclass(frozen=True)
class SeedResults:
    seeds: list[Video]
    exclude: list[Video]
    representation: str
    metric: str
    k: int
    method: str
    matches: list[Match]


# --------------------------------------------------------------------------- validation


def parse_ids(raw, param: str) -> list[int]:
    """A list of video ids from a list (JSON) or a comma-separated string ("1,2,3")."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [part for part in (p.strip() for p in raw.split(",")) if part]
    if not isinstance(raw, list | tuple):
        raise InvalidSearchParameter(param, f"{param} must be a list of video ids.")
    ids = []
    for value in raw:
        if isinstance(value, bool):
            raise InvalidSearchParameter(param, f"{value!r} is not a video id.")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or not 1 <= value <= ID_MAX:
            raise InvalidSearchParameter(param, f"{str(value)[:40]!r} is not a video id.")
        ids.append(value)
    return ids


def check_ids(seeds: Sequence[int], exclude: Sequence[int]) -> None:
    if not seeds:
        raise InvalidSearchParameter("seeds", "give at least one seed video id.")
    if len(seeds) > MAX_SEEDS:
        raise InvalidSearchParameter("seeds", f"at most {MAX_SEEDS} seed videos, got {len(seeds)}.")
    if len(exclude) > MAX_EXCLUDE:
        raise InvalidSearchParameter(
            "exclude", f"at most {MAX_EXCLUDE} videos to exclude, got {len(exclude)}."
        )
    for name, ids in (("seeds", seeds), ("exclude", exclude)):
        dupes = sorted({i for i in ids if list(ids).count(i) > 1})
        if dupes:
            raise InvalidSearchParameter(
                name, f"duplicate video ids: {_ids(dupes)} (give each video once)."
            )
    both = sorted(set(seeds) & set(exclude))
    if both:
        raise InvalidSearchParameter("exclude", f"video {_ids(both)} is both a seed and excluded.")


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(map(str, ids))


def _check_params(representation: str, metric: str, k: int, method: str) -> None:
    check_representation_and_metric(representation, metric)
    check_k(k)
    if method not in METHODS:
        raise InvalidSearchParameter("method", f"{method!r} is not one of {', '.join(METHODS)}")


def load_seed_vectors(
    ids: Sequence[int], representation: str, param: str
) -> tuple[list[Video], np.ndarray]:
    """The videos (in the given order) and their vectors (n, dim): one query. Unknown ids,
    videos not ready and videos without the representation are InvalidSearchParameter(param)."""
    # Only the representation's column: a seed's five vectors are ~1,100 floats to parse, and
    # that was a third of this query's time.
    unused = [f"vector__{c}" for c in REPRESENTATION_DIMS if c != representation]
    videos = {
        v.pk: v
        for v in Video.objects.filter(pk__in=list(ids))
        .select_related("genre", "predicted_genre", "vector")
        .defer(*unused, "vector__updated_at")
    }
    unknown = [i for i in ids if i not in videos]
    if unknown:
        raise InvalidSearchParameter(param, f"no video with id {_ids(unknown)}.")
    failed = [i for i in ids if videos[i].status == VideoStatus.FAILED]
    if failed:
        # Never going to be ready: "not ready yet" would invite waiting for it.
        raise InvalidSearchParameter(
            param, f"video {_ids(failed)} failed to process, so it cannot be searched from."
        )
    not_ready = [i for i in ids if videos[i].status != VideoStatus.READY]
    if not_ready:
        raise InvalidSearchParameter(
            param,
            f"video {_ids(not_ready)} is not ready yet (status {videos[not_ready[0]].status}); "
            "an upload or URL can be a seed once its search has finished.",
        )
    vectors = []
    for i in ids:
        try:
            value = getattr(videos[i].vector, representation)
        except VideoVector.DoesNotExist:
            value = None
        if value is None:
            raise InvalidSearchParameter(
                param, f"video {i} has no '{representation}' vector: choose another representation."
            )
        vectors.append(np.asarray(value, dtype=np.float64))
    return [videos[i] for i in ids], np.vstack(vectors)


# --------------------------------------------------------------------------- the search


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def centroid_query(positive: np.ndarray, negative: np.ndarray | None, metric: str) -> np.ndarray:
    """The centroid of the seeds moved away from the negatives' (q = c + w (c - c_neg))."""
    if metric == Metric.COSINE:
        positive = _unit(positive)
        negative = None if negative is None else _unit(negative)
    centre = positive.mean(axis=0)
    if negative is not None and len(negative):
        centre = centre + NEGATIVE_WEIGHT * (centre - negative.mean(axis=0))
    return centre


def distances(rows: np.ndarray, to: np.ndarray, metric: str) -> np.ndarray:
    """(n, m) distances between rows (n, d) and ``to`` (m, d) under the metric."""
    if metric == Metric.COSINE:
        return 1.0 - _unit(rows) @ _unit(to).T
    squared = (rows**2).sum(1)[:, None] + (to**2).sum(1)[None, :] - 2 * rows @ to.T
    return np.sqrt(np.maximum(squared, 0.0))


def more_like_these(
    seeds: Sequence[int],
    exclude: Sequence[int] = (),
    *,
    representation: str | None = None,
    metric: str | None = None,
    k: int | None = None,
    method: str = DEFAULT_METHOD,
    ef_search: int | None = None,
) -> SeedResults:
    """The k catalog videos most like the seed videos and least like ``exclude``.

    ``None`` parameters take the admin's defaults (SearchSettings). One seed is a plain
    search from that video's vector (no genre boost)."""
    settings = SearchSettings.cached()
    representation = representation or settings.default_representation
    metric = metric or settings.default_metric
    k = settings.k if k is None else k
    ef_search = settings.ef_search if ef_search is None else ef_search
    seeds, exclude = list(seeds), list(exclude)
    check_ids(seeds, exclude)
    _check_params(representation, metric, k, method)
    seed_videos, positive = load_seed_vectors(seeds, representation, "seeds")
    negative_videos, negative = (
        load_seed_vectors(exclude, representation, "exclude") if exclude else ([], None)
    )
    banned = set(seeds) | set(exclude)
    want = k * (NEGATIVE_POOL_FACTOR if exclude else 1)
    if method == CENTROID:
        query = centroid_query(positive, negative, metric)
        if metric == Metric.COSINE and not np.any(np.abs(query) > 1e-12):
            raise InvalidSearchParameter("seeds", "the seeds cancel out: no direction is left.")
        rows = nearest_rows(
            query.astype(np.float32),
            representation=representation,
            metric=metric,
            limit=want + len(banned),
            ef_search=ef_search,
            pool=Pool.CATALOG,
        )
        ranked = [(vid, float(dist)) for vid, dist, *_ in rows if vid not in banned]
    else:
        ranked = _fused(seeds, representation, metric, want + len(banned), ef_search, banned)
    if exclude:
        ranked = _drop_nearer_to_negatives(ranked, positive, negative, representation, metric)
    ranked = ranked[:k]
    return SeedResults(
        seeds=seed_videos,
        exclude=negative_videos,
        representation=representation,
        metric=metric,
        k=k,
        method=method,
        matches=_matches(ranked, metric),
    )


@functools.lru_cache(maxsize=256)
def fused_statement(representation: str, metric: str, limit: int) -> str:
    """Every seed's k-NN list in one statement: ``(seed position, video id, distance)``, up to
    ``limit`` ready catalog videos per seed (``%(seed_ids)s``, a bigint[] in seed order),
    each list in the order its index scan returned it.

    A LATERAL subquery per seed with the seed's stored vector as the probe, so each list is
    the same HNSW scan (same WHERE, ``ORDER BY distance LIMIT n``) that ``nearest_rows`` runs
    for one seed, and the vectors never travel to Python. ``row_number() OVER ()`` numbers
    each list in arrival order: under relaxed iterative scans a later pass may return a row
    slightly out of order, and the fusion ranks rows as they come (as it did with one
    statement per seed), so the outer ORDER BY must not re-sort them by distance. The LIMIT is
    a literal (as in search.sql) so a prepared statement's generic plan keeps the index."""
    vectors, videos = VideoVector._meta.db_table, Video._meta.db_table
    column = connection.ops.quote_name(representation)
    operator = "<->" if metric == Metric.EUCLIDEAN else "<=>"
    knn = (
        f"SELECT vv.video_id, vv.{column} {operator} q.{column} AS distance "
        f"FROM {vectors} vv JOIN {videos} v ON v.id = vv.video_id "
        f"WHERE vv.{column} IS NOT NULL AND v.status = %(status)s AND v.is_query = false "
        f"ORDER BY 2 LIMIT {int(limit)}"
    )
    return (
        "SELECT s.ord, n.video_id, n.distance "
        "FROM unnest(%(seed_ids)s::bigint[]) WITH ORDINALITY AS s(id, ord) "
        f"JOIN {vectors} q ON q.video_id = s.id "
        f"CROSS JOIN LATERAL (SELECT l.*, row_number() OVER () AS pos FROM ({knn}) l) n "
        "ORDER BY s.ord, n.pos"
    )


def seed_lists(
    seeds: Sequence[int], representation: str, metric: str, limit: int, ef_search: int
) -> list[list[tuple[int, float | None]]]:
    """Each seed's ``(video id, distance)`` list, nearest first (as the index returns them),
    in seed order: one statement (``fused_statement``) in one round trip.

    As find_similar does for a plain search, the statement first runs with iterative scans
    off (one pass over the graph per seed: ~10 % cheaper at 100k) when ef_search leaves room
    (at least twice the LIMIT); only if some seed's list comes back short (most of its nearest
    neighbours unready or past queries) does it run again with relaxed iterative scans. A full
    first pass is what the iterative scan returns too: it only goes on when the first pass
    did not fill the LIMIT."""
    statement = fused_statement(representation, metric, limit)
    params = {"seed_ids": list(seeds), "status": VideoStatus.READY.value}
    ef = max(ef_search, limit)
    rows = None
    if ef >= 2 * limit:
        rows = run_search(statement, params, ef_search=ef, exact=False, iterative=SINGLE_PASS)
        counts = Counter(ord_ for ord_, _, _ in rows)
        if any(counts[i] < limit for i in range(1, len(seeds) + 1)):
            rows = None
    if rows is None:
        rows = run_search(statement, params, ef_search=ef, exact=False, iterative=RELAXED)
    lists: list[list[tuple[int, float | None]]] = [[] for _ in seeds]
    for ord_, vid, dist in rows:
        lists[ord_ - 1].append((vid, dist))
    return lists


def _fused(
    seeds: Sequence[int],
    representation: str,
    metric: str,
    limit: int,
    ef_search: int,
    banned: set[int],
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of the seeds' k-NN lists: (video id, distance to the nearest
    seed), best fused score first (ties: nearer, then lower id)."""
    score: dict[int, float] = {}
    nearest: dict[int, float] = {}
    # Seeds in the given order: the float sums (and so exact ties) do not depend on the plan.
    for rows in seed_lists(seeds, representation, metric, limit, ef_search):
        rank = 0
        for vid, dist in rows:
            if vid in banned or dist is None:
                continue
            rank += 1
            score[vid] = score.get(vid, 0.0) + 1.0 / (RRF_K + rank)
            nearest[vid] = min(nearest.get(vid, float("inf")), float(dist))
    order = sorted(score, key=lambda vid: (-score[vid], nearest[vid], vid))
    return [(vid, nearest[vid]) for vid in order]


def _drop_nearer_to_negatives(
    ranked: list[tuple[int, float]],
    positive: np.ndarray,
    negative: np.ndarray,
    representation: str,
    metric: str,
) -> list[tuple[int, float]]:
    """Keep the candidates nearer to some seed than to every negative (one query for their
    vectors)."""
    if not ranked:
        return ranked
    ids = [vid for vid, _ in ranked]
    found = dict(
        VideoVector.objects.filter(video_id__in=ids).values_list("video_id", representation)
    )
    rows = np.vstack([np.asarray(found[vid], dtype=np.float64) for vid in ids])
    to_seed = distances(rows, positive, metric).min(axis=1)
    to_negative = distances(rows, negative, metric).min(axis=1)
    return [pair for pair, p, n in zip(ranked, to_seed, to_negative, strict=True) if p <= n]


def _matches(ranked: list[tuple[int, float]], metric: str) -> list[Match]:
    videos = Video.objects.select_related("genre", "predicted_genre").in_bulk(
        [vid for vid, _ in ranked]
    )
    return [
        Match(
            video=videos[vid],
            distance=distance,
            score=similarity_score(distance, metric),
            boosted_distance=distance,
            same_genre=False,
            rank=rank,
        )
        for rank, (vid, distance) in enumerate(ranked, start=1)
        if vid in videos
    ]
