"""k-nearest-neighbour search over ``search.VideoVector`` (selectors: read only).

One call = one pgvector query through the ORM, ordered by ``<->`` (Euclidean) or ``<=>``
(cosine) so the HNSW index serves it, fetching a candidate *pool* of k x
``candidate_pool_factor`` rows that is then re-ranked in Python with the genre boost. See
docs/search.md for the reasoning behind each rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from pgvector.django import CosineDistance, L2Distance

from catalog.models import Genre, Video, VideoStatus
from search.models import REPRESENTATION_DIMS, Metric, Representation, SearchSettings, VideoVector

K_MAX = 100
EF_SEARCH_MAX = 1000
MIN_POOL_FACTOR = 10
POOLS = ("catalog", "queries")

Pool = Literal["catalog", "queries"]


class InvalidSearchParameter(ValueError):
    """A search parameter is out of range; ``param`` names it (for API error bodies)."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.message = message
        super().__init__(f"{param}: {message}")


class RepresentationUnavailable(Exception):
    """The requested representation has no vectors (yet) for the query or the catalog."""


@dataclass(frozen=True)
class Match:
    video: Video
    distance: float  # the metric's distance between the stored vectors
    score: float  # similarity in 0..1 derived from `distance` (see similarity_score)
    boosted_distance: float  # what the ranking sorts by: distance x boost for same-genre videos
    same_genre: bool  # predicted or curated genre equals the query's genre
    rank: int  # 1-based


def similarity_score(distance: float, metric: str) -> float:
    """Map a distance to a 0..1 similarity (1 = identical).

    cosine: 1 - d/2 (d is in [0, 2]); euclidean: 1 / (1 + d). The feature columns are scaled
    so a typical unrelated pair is at d ~ sqrt(2 x blocks) (score ~0.3-0.4 for Euclidean).
    """
    if metric == Metric.COSINE:
        return min(1.0, max(0.0, 1.0 - distance / 2.0))
    return 1.0 / (1.0 + max(0.0, distance))


# --------------------------------------------------------------------------- validation


def _validate(
    representation: str, metric: str, k: int, boost: float, pool: str, ef_search: int
) -> None:
    if representation not in Representation.values:
        raise InvalidSearchParameter(
            "representation",
            f"{representation!r} is not one of {', '.join(Representation.values)}",
        )
    if metric not in Metric.values:
        raise InvalidSearchParameter(
            "metric", f"{metric!r} is not one of {', '.join(Metric.values)}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise InvalidSearchParameter("k", f"must be an integer from 1 to {K_MAX}, got {k!r}")
    if not isinstance(boost, int | float) or not 0 < boost <= 1:
        raise InvalidSearchParameter("boost", f"must be in (0, 1] (1 = off), got {boost!r}")
    if pool not in POOLS:
        raise InvalidSearchParameter("pool", f"{pool!r} is not one of {', '.join(POOLS)}")
    if isinstance(ef_search, bool) or not 1 <= ef_search <= EF_SEARCH_MAX:
        raise InvalidSearchParameter("ef_search", f"must be 1..{EF_SEARCH_MAX}, got {ef_search}")


def _vector_of(query: Video, representation: str) -> np.ndarray:
    value = (
        VideoVector.objects.filter(video_id=query.pk).values_list(representation, flat=True).first()
    )
    if value is not None:
        return np.asarray(value, dtype=np.float32)
    if representation == Representation.CODE:
        if not _any_codes():
            raise RepresentationUnavailable(_NO_CODES)
        raise RepresentationUnavailable(
            f"Video {query.pk} has no learned code yet: the active model has not encoded it."
        )
    if representation == Representation.AUDIO and query.has_audio is False:
        raise RepresentationUnavailable(f"Video {query.pk} has no audio track.")
    if representation == Representation.VISUAL and query.has_video is False:
        raise RepresentationUnavailable(f"Video {query.pk} has no picture.")
    raise RepresentationUnavailable(
        f"Video {query.pk} has no '{representation}' vector yet: its features are not "
        "extracted (or not materialised)."
    )


_NO_CODES = (
    "No learned codes yet: no active model has encoded the catalog. Train a model (or activate "
    "one) and let it encode the catalog, or search by audio/visual/both features."
)


def _any_codes() -> bool:
    return VideoVector.objects.filter(code__isnull=False).exists()


def _check_vector(vector: np.ndarray, representation: str) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    dim = REPRESENTATION_DIMS[representation]
    if vector.shape != (dim,):
        raise InvalidSearchParameter(
            "query", f"a '{representation}' query vector has {dim} values, got {vector.shape}"
        )
    if not np.isfinite(vector).all():
        raise InvalidSearchParameter("query", "the query vector contains NaN or infinity")
    return vector


# --------------------------------------------------------------------------- the search


def nearest_rows(
    vector: np.ndarray,
    *,
    representation: str,
    metric: str,
    limit: int,
    ef_search: int,
    pool: Pool = "catalog",
    genre: Genre | None = None,
    exclude: Q | None = None,
    exact: bool = False,
) -> list[tuple[int, float, int | None, int | None]]:
    """The raw k-NN query: up to ``limit`` ``(video_id, distance, genre_id, predicted_genre_id)``
    of ready videos of the pool, nearest first (only approximately unless ``exact``: relaxed
    iterative scans). One ORM query in a transaction with the SET LOCALs. Parameters are not
    validated here; find_similar does that and is what callers want.
    """
    distance = (L2Distance if metric == Metric.EUCLIDEAN else CosineDistance)(
        representation, vector
    )
    candidates = VideoVector.objects.filter(
        **{f"{representation}__isnull": False},
        video__status=VideoStatus.READY,
        video__is_query=(pool == "queries"),
    )
    if genre is not None:
        candidates = candidates.filter(Q(video__genre=genre) | Q(video__predicted_genre=genre))
    if exclude:
        candidates = candidates.exclude(exclude)
    # Only `distance` in ORDER BY so the HNSW index can serve it; exact ties are broken by the
    # caller (and here in SQL when exact, where a secondary key costs nothing).
    ordering = ("distance", "video_id") if exact else ("distance",)
    candidates = (
        candidates.annotate(distance=distance)
        .order_by(*ordering)
        .values_list("video_id", "distance", "video__genre_id", "video__predicted_genre_id")
    )[:limit]

    nested = connection.in_atomic_block
    with transaction.atomic():
        # Pipeline mode: BEGIN, the settings and the k-NN query reach the server in one round
        # trip (each round trip costs a context switch, which is dear on a busy machine).
        with connection.connection.pipeline():
            with connection.cursor() as cursor:
                # set_config(..., true) == SET LOCAL: gone at commit. Every search filters
                # (pool, status, exclusions), so iterative scans keep reading the index until
                # `limit` rows pass the filters instead of stopping after ef_search
                # candidates; relaxed order is why callers re-sort. ef_search >= limit so one
                # pass can fill it.
                cursor.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true), "
                    "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                    "set_config('enable_indexscan', %s, true)",
                    [str(min(EF_SEARCH_MAX, max(ef_search, limit))), "off" if exact else "on"],
                )
            rows = list(candidates)
        if nested and exact:
            # SET LOCAL outlives a savepoint: don't leave index scans off for the caller.
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('enable_indexscan', 'on', true)")
    return rows


def find_similar(
    query: Video | np.ndarray,
    *,
    representation: str,
    metric: str,
    k: int,
    boost: float | None = None,
    pool: Pool = "catalog",
    genre: Genre | None = None,
    exact: bool = False,
    ef_search: int | None = None,
) -> list[Match]:
    """The k videos most similar to ``query`` (a Video, or a vector of the representation).

    - candidates: ``ready`` videos of the pool ('catalog' or past 'queries') with a vector in
      the column, optionally of ``genre`` (curated or predicted); never the query video itself
      nor a near-duplicate (same non-empty youtube_id or content_sha256).
    - boost: same-genre candidates (predicted or curated genre == the query's predicted genre,
      else its curated one) rank by distance x boost; None = SearchSettings.genre_boost.
      Vector queries have no genre, so no boost.
    - exact: disable index scans for an exact (sequential) search.

    Raises InvalidSearchParameter (a ValueError naming the parameter) and
    RepresentationUnavailable (no vector for the query, or no learned codes at all).
    """
    settings = SearchSettings.load()
    boost = settings.genre_boost if boost is None else boost
    ef_search = settings.ef_search if ef_search is None else ef_search
    _validate(representation, metric, k, boost, pool, ef_search)

    exclude = Q()
    query_genre_id = None
    if isinstance(query, Video):
        vector = _vector_of(query, representation)
        query_genre_id = query.predicted_genre_id or query.genre_id
        exclude |= Q(video_id=query.pk)
        if query.youtube_id:
            exclude |= Q(video__youtube_id=query.youtube_id)
        if query.content_sha256:
            exclude |= Q(video__content_sha256=query.content_sha256)
    else:
        vector = _check_vector(query, representation)
    if metric == Metric.COSINE and not np.any(vector):
        raise RepresentationUnavailable(
            "The query vector is all zeros (e.g. every weight of this representation is 0): "
            "it has no cosine distance to anything."
        )

    pool_size = k * max(settings.candidate_pool_factor, MIN_POOL_FACTOR)
    rows = nearest_rows(
        vector,
        representation=representation,
        metric=metric,
        limit=pool_size,
        ef_search=ef_search,
        pool=pool,
        genre=genre,
        exclude=exclude,
        exact=exact,
    )

    ranked = []
    for video_id, dist, genre_id, predicted_id in rows:
        if dist is None or math.isnan(dist):  # cosine of a zero vector
            continue
        same = query_genre_id is not None and query_genre_id in (genre_id, predicted_id)
        boosted = dist * boost if same else dist
        ranked.append((boosted, dist, video_id, same))
    ranked.sort(key=lambda item: (item[0], item[1], item[2]))
    ranked = ranked[:k]

    if not ranked and representation == Representation.CODE and not _any_codes():
        raise RepresentationUnavailable(_NO_CODES)
    videos = Video.objects.select_related("genre", "predicted_genre").in_bulk(
        [item[2] for item in ranked]
    )
    ranked = [item for item in ranked if item[2] in videos]  # deleted since the first query
    return [
        Match(
            video=videos[video_id],
            distance=float(dist),
            score=similarity_score(float(dist), metric),
            boosted_distance=float(boosted),
            same_genre=same,
            rank=rank,
        )
        for rank, (boosted, dist, video_id, same) in enumerate(ranked, start=1)
    ]
