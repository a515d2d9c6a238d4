"""k-nearest-neighbour search over ``search.VideoVector`` (selectors: read only).

A search is one SQL statement (``ranked_statement``): the HNSW index serves a k-NN query
ordered by ``<->`` (Euclidean) or ``<=>`` (cosine) that fetches a candidate pool, the pool is
re-ranked with the genre boost, and the k winners come back as whole Video rows with their
genres, sent together with the ``hnsw.*`` settings in one round trip. The statement is built
once per shape from the models' table and column names; see docs/search.md for the rules and
docs/benchmarks.md for what each part costs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from catalog.models import Genre, Video, VideoStatus
from search.choices import POOLS, Metric, Pool, Representation
from search.models import REPRESENTATION_DIMS, SearchSettings, VideoVector
from search.sql import (
    EF_SEARCH_MAX,
    RELAXED,
    ROW_WIDTH,
    SINGLE_PASS,
    knn_statement,
    ranked_statement,
    run_search,
    video_from_row,
)
from search.tags import TAG_FILTER_MIN, UnknownTag, model_name, parse_tags, positions

K_MAX = 100
MIN_POOL_FACTOR = 10
SMALL_POOL_FACTOR = 2  # x k: the pool of a cap alone; the first of a filtered search
MAX_PER_ARTIST_MAX = 100
DURATION_MAX = 24 * 3600.0  # seconds; a duration filter beyond a day is a typo


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


def check_representation_and_metric(representation: str, metric: str) -> None:
    """InvalidSearchParameter naming the parameter unless both are known choices."""
    if representation not in Representation.values:
        raise InvalidSearchParameter(
            "representation",
            f"{str(representation)[:40]!r} is not one of {', '.join(Representation.values)}",
        )
    if metric not in Metric.values:
        raise InvalidSearchParameter(
            "metric", f"{str(metric)[:40]!r} is not one of {', '.join(Metric.values)}"
        )


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise InvalidSearchParameter("k", f"must be an integer from 1 to {K_MAX}, got {k!r}")


def _validate(
    representation: str, metric: str, k: int, boost: float, pool: str, ef_search: int
) -> None:
    check_representation_and_metric(representation, metric)
    check_k(k)
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
    if representation in (Representation.AUDIO, Representation.MUSIC) and query.has_audio is False:
        raise RepresentationUnavailable(f"Video {query.pk} has no audio track.")
    if representation == Representation.MUSIC:
        raise RepresentationUnavailable(
            f"Video {query.pk} has no music embedding yet: extract it again, or add them to "
            "the catalog with `manage.py extract --only music --pending`."
        )
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


@dataclass(frozen=True)
class Exclusions:
    """Videos a search must not return: the query itself and its near-duplicates."""

    video_id: int | None = None
    youtube_id: str = ""
    content_sha256: str = ""

    @classmethod
    def of(cls, video: Video) -> Exclusions:
        return cls(video.pk, video.youtube_id or "", video.content_sha256 or "")


@dataclass(frozen=True)
class Filters:
    """What a match must be besides near: of ``genre`` (curated or predicted), between
    ``min_duration`` and ``max_duration`` seconds (either may be None), and carrying every tag
    of ``tags`` (canonical names, search.tags) with a probability of at least TAG_FILTER_MIN."""

    genre: Genre | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    tags: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return (
            self.genre is not None
            or self.min_duration is not None
            or self.max_duration is not None
            or bool(self.tags)
        )


def _validate_filters(
    min_duration: float | None, max_duration: float | None, tags
) -> tuple[str, ...]:
    for name, value in (("min_duration", min_duration), ("max_duration", max_duration)):
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= DURATION_MAX
        ):
            raise InvalidSearchParameter(
                name, f"must be a number of seconds from 0 to {DURATION_MAX:.0f}, got {value!r}"
            )
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise InvalidSearchParameter(
            "min_duration",
            f"must not be more than max_duration ({min_duration:g} > {max_duration:g})",
        )
    try:
        return parse_tags(tags)
    except UnknownTag as exc:
        raise InvalidSearchParameter("tags", str(exc)) from None


def nearest_rows(
    query: np.ndarray | int,
    *,
    representation: str,
    metric: str,
    limit: int,
    ef_search: int,
    pool: str = Pool.CATALOG,
    genre: Genre | None = None,
    exclude: Exclusions | None = None,
    exact: bool = False,
) -> list[tuple[int, float | None, int | None, int | None]]:
    """The raw k-NN query: up to ``limit`` ``(video_id, distance, genre_id, predicted_genre_id)``
    of ready videos of the pool, nearest first (only approximately unless ``exact``: relaxed
    iterative scans). ``query``: a vector, or the id of a video whose stored vector is the
    query (distance NULL for every row if it has none). Parameters are not validated here;
    find_similar does that and is what callers want.
    """
    statement, params = _knn(
        query, representation, metric, limit, pool, Filters(genre), exclude or Exclusions(), exact
    )
    return run_search(statement, params, ef_search=max(ef_search, limit), exact=exact)


def _knn(
    query: np.ndarray | int,
    representation: str,
    metric: str,
    limit: int,
    pool: str,
    filters: Filters,
    exclude: Exclusions,
    exact: bool,
    artist: bool = False,
) -> tuple[str, dict]:
    by_video = not isinstance(query, np.ndarray)
    genre = filters.genre
    statement = knn_statement(
        representation,
        metric,
        limit,
        by_video=by_video,
        genre=genre is not None,
        exclude_id=exclude.video_id is not None,
        exclude_youtube=bool(exclude.youtube_id),
        exclude_sha256=bool(exclude.content_sha256),
        exact=exact,
        min_duration=filters.min_duration is not None,
        max_duration=filters.max_duration is not None,
        tags=len(filters.tags),
        artist=artist,
    )
    params = {
        "status": VideoStatus.READY.value,
        "is_query": pool == "queries",
        "genre_id": genre.pk if genre is not None else None,
        "exclude_id": exclude.video_id,
        "youtube_id": exclude.youtube_id,
        "content_sha256": exclude.content_sha256,
        "min_duration": filters.min_duration,
        "max_duration": filters.max_duration,
    }
    if filters.tags:
        params["music_model"] = model_name()
        params["tag_min"] = TAG_FILTER_MIN
        # SQL arrays start at 1.
        params.update({f"tag_{i}": p + 1 for i, p in enumerate(positions(filters.tags))})
    if by_video:
        params["query_id"] = int(query)
    else:
        params["vector"] = "[" + ",".join(map(repr, np.asarray(query).tolist())) + "]"
    return statement, params


def find_similar(
    query: Video | np.ndarray,
    *,
    representation: str,
    metric: str,
    k: int,
    boost: float | None = None,
    pool: str = Pool.CATALOG,
    genre: Genre | None = None,
    exact: bool = False,
    ef_search: int | None = None,
    max_per_artist: int | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    tags: tuple[str, ...] | str = (),
) -> list[Match]:
    """The k videos most similar to ``query`` (a Video, or a vector of the representation).

    - candidates: ``ready`` videos of the pool ('catalog' or past 'queries') with a vector in
      the column, optionally of ``genre`` (curated or predicted), between ``min_duration``
      and ``max_duration`` seconds, with every tag of ``tags`` (search.tags); never the query
      video itself nor a near-duplicate (same non-empty youtube_id or content_sha256).
    - boost: same-genre candidates (predicted or curated genre == the query's predicted genre,
      else its curated one) rank by distance x boost; None = SearchSettings.genre_boost.
      Vector queries have no genre, so no boost.
    - max_per_artist: at most this many results per artist (case-insensitive; videos without
      an artist are not capped), applied after the boost over the candidate pool; None = no
      cap (the pages and the API pass SearchSettings.max_per_artist by default).
    - exact: disable index scans for an exact (sequential) search.

    Raises InvalidSearchParameter (a ValueError naming the parameter) and
    RepresentationUnavailable (no vector for the query, or no learned codes at all).
    """
    settings = SearchSettings.cached()
    boost = settings.genre_boost if boost is None else boost
    ef_search = settings.ef_search if ef_search is None else ef_search
    _validate(representation, metric, k, boost, pool, ef_search)
    if max_per_artist is not None and (
        isinstance(max_per_artist, bool)
        or not isinstance(max_per_artist, int)
        or not 1 <= max_per_artist <= MAX_PER_ARTIST_MAX
    ):
        raise InvalidSearchParameter(
            "max_per_artist",
            f"must be an integer from 1 to {MAX_PER_ARTIST_MAX}, got {max_per_artist!r}",
        )
    filters = Filters(
        genre, min_duration, max_duration, _validate_filters(min_duration, max_duration, tags)
    )

    exclude = None
    query_genre_id = None
    probe: np.ndarray | int
    if isinstance(query, Video):
        query_genre_id = query.predicted_genre_id or query.genre_id
        exclude = Exclusions.of(query)
        # Its stored vector is read inside the k-NN statement; a video with no vector gets
        # NULL distances and is diagnosed below (only then is the vector fetched).
        probe = query.pk if query.pk is not None else _vector_of(query, representation)
    else:
        probe = _check_vector(query, representation)
        if metric == Metric.COSINE and not np.any(probe):
            raise RepresentationUnavailable(_ZERO_COSINE)

    # The pool exists so the boost cannot drop true near neighbours (a same-genre video a
    # bit farther away may overtake) and so k rows are left after the artist cap: k x
    # candidate_pool_factor for a boost that can reorder (a genre filter equal to the query's
    # genre makes every candidate same-genre: then it cannot), 2k for a cap alone (without a
    # reordering boost each artist's kept rows are its nearest, so the nearest 2k give the
    # answer any larger pool gives whenever k of them survive). Under filters the index walks
    # until the pool is full of rows that pass them, so a larger pool costs a longer walk:
    # the first pool is 2k, grown x5 only while a larger one could change the answer
    # (_pool_settled). Without filters ef_search bounds the walk, and the full pool costs one
    # round trip. A cap that leaves fewer than k widens the pool as far as it takes.
    genre_filtered = filters.genre is not None and filters.genre.pk == query_genre_id
    boosting = query_genre_id is not None and boost < 1 and not genre_filtered
    capped = max_per_artist is not None and max_per_artist < k
    if boosting:
        full_pool = k * max(settings.candidate_pool_factor, MIN_POOL_FACTOR)
    else:
        full_pool = k * SMALL_POOL_FACTOR if capped else k
    pool_size = min(full_pool, k * SMALL_POOL_FACTOR) if filters.any and not exact else full_pool
    search = functools.partial(
        _ranked_rows,
        probe,
        representation,
        metric,
        k,
        pool,
        filters,
        exclude,
        exact,
        ef_search,
        capped=capped,
        query_genre_id=query_genre_id,
        boost=boost,
        max_per_artist=max_per_artist,
    )
    rows = search(pool_size)
    while not _pool_settled(rows, k, pool_size, boost if boosting else 1.0):
        largest = full_pool if len(rows) >= k else EF_SEARCH_MAX
        if pool_size >= largest:
            break
        pool_size = min(largest, pool_size * 5)
        rows = search(pool_size)
    if not rows:
        _explain_no_results(query, representation, metric)
        return []
    return [_match(row, rank, metric) for rank, row in enumerate(rows, start=1)]


def _pool_settled(rows: list[tuple], k: int, pool_size: int, boost: float) -> bool:
    """Whether a larger pool would give the same answer as ``rows`` (ranked_statement rows,
    which end with the pool's row count and farthest distance): yes when the pool held every
    candidate; else only when k rows came back and the k-th ranks ahead of anything beyond
    the pool — those are at least as far as the pool's farthest, so their boosted distance is
    at least boost x that (1 without a boost that reorders)."""
    if not rows:
        return True  # no candidate at all (a full pool always keeps one row per artist)
    pool_rows, reach = rows[0][-2], rows[0][-1]
    if pool_rows < pool_size:
        return True
    if len(rows) < k:
        return False
    return reach is not None and rows[-1][ROW_WIDTH + 1] <= boost * reach


def _ranked_rows(
    probe: np.ndarray | int,
    representation: str,
    metric: str,
    k: int,
    pool: str,
    filters: Filters,
    exclude: Exclusions | None,
    exact: bool,
    ef_search: int,
    pool_size: int,
    *,
    capped: bool,
    query_genre_id: int | None,
    boost: float,
    max_per_artist: int | None,
) -> list[tuple]:
    knn, params = _knn(
        probe,
        representation,
        metric,
        pool_size,
        pool,
        filters,
        exclude or Exclusions(),
        exact,
        artist=capped,
    )
    params.update(query_genre_id=query_genre_id, boost=float(boost), max_per_artist=max_per_artist)
    # The query video itself passes the index before the filter drops it: one more slot in
    # the first pass saves a second (iterative) pass over the graph.
    ef = max(ef_search, pool_size + (exclude is not None))
    statement = ranked_statement(knn, k, capped=capped)
    # One pass over the graph is enough when the filters cannot starve it: the catalog pool
    # (nearly every indexed row is a ready catalog video; past queries are a small minority,
    # so that pool goes straight to iterative scans), no genre, duration or tag filter, and
    # ef_search at least twice the LIMIT. Fewer than k rows back means it was not, and the
    # search runs again with iterative scans.
    single_pass = pool == "catalog" and not filters.any and not exact and ef >= 2 * pool_size
    mode = SINGLE_PASS if single_pass else RELAXED
    # A generic plan cannot judge a duration range (search.sql.run_search): plan it each time.
    custom = filters.min_duration is not None or filters.max_duration is not None
    rows = run_search(
        statement, params, ef_search=ef, exact=exact, iterative=mode, custom_plan=custom
    )
    if single_pass and len(rows) < k:
        rows = run_search(statement, params, ef_search=ef, exact=exact, custom_plan=custom)
    return rows


def _match(row: tuple, rank: int, metric: str) -> Match:
    """A ranked_statement row → Match, its Video with both genres attached (no more queries)."""
    distance, boosted, same = row[ROW_WIDTH : ROW_WIDTH + 3]
    return Match(
        video=video_from_row(row),
        distance=float(distance),
        score=similarity_score(float(distance), metric),
        boosted_distance=float(boosted),
        same_genre=bool(same),
        rank=rank,
    )


_ZERO_COSINE = (
    "The query vector is all zeros (e.g. every weight of this representation is 0): "
    "it has no cosine distance to anything."
)


def _explain_no_results(query: Video | np.ndarray, representation: str, metric: str) -> None:
    """No candidate at all: raise the reason if it is the query's (no vector, a zero vector
    under cosine, no learned codes anywhere); an empty catalog or filter just returns []."""
    if isinstance(query, Video):
        vector = _vector_of(query, representation)  # raises when the query has none
        if metric == Metric.COSINE and not np.any(vector):
            raise RepresentationUnavailable(_ZERO_COSINE)
    elif representation == Representation.CODE and not _any_codes():
        raise RepresentationUnavailable(_NO_CODES)
