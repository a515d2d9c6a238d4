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
import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from django.db import connection, transaction

from catalog.models import Genre, Video, VideoStatus
from search.choices import POOLS
from search.models import REPRESENTATION_DIMS, Metric, Representation, SearchSettings, VideoVector

K_MAX = 100
EF_SEARCH_MAX = 1000
MIN_POOL_FACTOR = 10

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


@functools.lru_cache(maxsize=256)
def knn_statement(
    representation: str,
    metric: str,
    *,
    by_video: bool,
    genre: bool,
    exclude_id: bool,
    exclude_youtube: bool,
    exclude_sha256: bool,
    exact: bool,
) -> str:
    """The k-NN SQL for one shape of search, built once per process (names from the models).

    Hand-written rather than compiled by the ORM on every call: at 1M videos the graph search
    takes ~3 ms and compiling the equivalent queryset took another 0.5 ms. ``by_video``: the
    query vector is read by a scalar subquery from the query video's own row, so it never
    travels to Python and back (pgvector's index scan accepts it like a constant).
    """
    vectors, videos = VideoVector._meta.db_table, Video._meta.db_table
    column = connection.ops.quote_name(representation)
    operator = "<->" if metric == Metric.EUCLIDEAN else "<=>"
    probe = (
        f"(SELECT q.{column} FROM {vectors} q WHERE q.video_id = %(query_id)s)"
        if by_video
        else "%(vector)s::vector"
    )
    where = [f"vv.{column} IS NOT NULL", "v.status = %(status)s", "v.is_query = %(is_query)s"]
    if genre:
        where.append("(v.genre_id = %(genre_id)s OR v.predicted_genre_id = %(genre_id)s)")
    if exclude_id:
        where.append("vv.video_id <> %(exclude_id)s")
    if exclude_youtube:
        where.append("v.youtube_id IS DISTINCT FROM %(youtube_id)s")
    if exclude_sha256:
        where.append("v.content_sha256 <> %(content_sha256)s")
    # Only the distance in ORDER BY so the HNSW index can serve it; exact ties are broken by
    # ranked_statement's outer ORDER BY (and here when exact, where a second key is free).
    return (
        f"SELECT vv.video_id, vv.{column} {operator} {probe} AS distance, "
        f"v.genre_id, v.predicted_genre_id "
        f"FROM {vectors} vv JOIN {videos} v ON v.id = vv.video_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {'2, 1' if exact else '2'} LIMIT %(limit)s"
    )


@functools.lru_cache(maxsize=256)
def ranked_statement(knn: str) -> str:
    """One statement for a whole search: the k-NN pool (``knn``, a knn_statement), re-ranked
    with the boost, and the k winners' Video rows with both genres joined, so a search is a
    single round trip. Output columns: Video's concrete fields, then each genre's, then
    distance, boosted distance and same-genre flag."""
    videos, genres = Video._meta.db_table, Genre._meta.db_table
    quote = connection.ops.quote_name
    columns = [f"v.{quote(f.column)}" for f in Video._meta.concrete_fields]
    for alias in ("g", "pg"):
        columns += [f"{alias}.{quote(f.column)}" for f in Genre._meta.concrete_fields]
    # %(query_genre_id)s IN (...) is NULL (not boosted) for a query without a genre.
    same = "COALESCE(%(query_genre_id)s IN (pool.genre_id, pool.predicted_genre_id), false)"
    return (
        f"WITH pool AS MATERIALIZED ({knn}) "
        f"SELECT {', '.join(columns)}, pool.distance, "
        f"CASE WHEN {same} THEN pool.distance * %(boost)s ELSE pool.distance END AS boosted, "
        f"{same} AS same_genre "
        f"FROM pool JOIN {videos} v ON v.id = pool.video_id "
        f"LEFT JOIN {genres} g ON g.id = v.genre_id "
        f"LEFT JOIN {genres} pg ON pg.id = v.predicted_genre_id "
        # NULL: the query video has no vector; NaN: cosine of a zero vector.
        "WHERE pool.distance IS NOT NULL AND pool.distance <> 'NaN'::float8 "
        "ORDER BY boosted, pool.distance, v.id LIMIT %(k)s"
    )


def nearest_rows(
    query: np.ndarray | int,
    *,
    representation: str,
    metric: str,
    limit: int,
    ef_search: int,
    pool: Pool = "catalog",
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
        query, representation, metric, limit, pool, genre, exclude or Exclusions(), exact
    )
    return _run(statement, params, ef_search=max(ef_search, limit), exact=exact)


def _knn(
    query: np.ndarray | int,
    representation: str,
    metric: str,
    limit: int,
    pool: str,
    genre: Genre | None,
    exclude: Exclusions,
    exact: bool,
) -> tuple[str, dict]:
    by_video = not isinstance(query, np.ndarray)
    statement = knn_statement(
        representation,
        metric,
        by_video=by_video,
        genre=genre is not None,
        exclude_id=exclude.video_id is not None,
        exclude_youtube=bool(exclude.youtube_id),
        exclude_sha256=bool(exclude.content_sha256),
        exact=exact,
    )
    params = {
        "status": VideoStatus.READY.value,
        "is_query": pool == "queries",
        "genre_id": genre.pk if genre is not None else None,
        "exclude_id": exclude.video_id,
        "youtube_id": exclude.youtube_id,
        "content_sha256": exclude.content_sha256,
        "limit": limit,
    }
    if by_video:
        params["query_id"] = int(query)
    else:
        params["vector"] = "[" + ",".join(map(repr, np.asarray(query).tolist())) + "]"
    return statement, params


RELAXED, SINGLE_PASS = "relaxed_order", "off"  # hnsw.iterative_scan modes


def _run(
    statement: str,
    params: dict,
    *,
    ef_search: int,
    exact: bool,
    iterative: str = RELAXED,
) -> list[tuple]:
    """Execute a k-NN statement with the HNSW settings it needs.

    ``iterative``: RELAXED (``hnsw.iterative_scan = relaxed_order``) keeps reading the index
    until enough rows pass the filters (pool, status, exclusions, genre) instead of stopping
    after ef_search candidates; a later pass may return rows slightly out of order, which the
    statements re-sort. (strict_order was tried for LIMIT k without a pool: it drops nearer
    rows found late instead, 14 wrong top-10s in 60 filtered queries vs 2 with
    relaxed_order.) SINGLE_PASS (``off``) returns at most ef_search candidates but skips the
    iterative bookkeeping (~0.4 ms of 3 ms at 1M); find_similar uses it only with plenty of
    headroom and falls back to RELAXED when it comes back short. ``ef_search`` should be >=
    the LIMIT so one pass usually fills it.
    """
    ef = str(min(EF_SEARCH_MAX, ef_search))
    if exact:
        # enable_indexscan must not outlive this query: SET LOCAL needs a transaction.
        nested = connection.in_atomic_block
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _SET_SEARCH_PARAMETERS + ", set_config('enable_indexscan', 'off', true)",
                [ef, True, iterative, True],
            )
            cursor.execute(statement, params)
            rows = cursor.fetchall()
            if nested:  # SET LOCAL outlives a savepoint: don't leave index scans off
                cursor.execute("SELECT set_config('enable_indexscan', 'on', true)")
        return rows
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Pipeline mode: the settings and the k-NN statement reach the server in one
            # round trip; SET LOCAL, so nothing outlives the caller's transaction.
            with connection.connection.pipeline():
                cursor.execute(_SET_SEARCH_PARAMETERS, [ef, True, iterative, True])
                cursor.execute(statement, params)
                return cursor.fetchall()
        return _run_prepared(cursor, statement, params, ef, iterative)


@dataclass
class _Session:
    """What this process has set up on one server connection (outside transactions)."""

    raw: object  # the psycopg connection it belongs to; a reconnect starts a new _Session
    settings: tuple[str, str] | None = None  # (ef_search, iterative_scan) as last set
    prepared: set[str] = field(default_factory=set)


def _run_prepared(cursor, statement: str, params: dict, ef: str, iterative: str) -> list[tuple]:
    """Autocommit (a web request, a job): the hnsw settings as session settings, sent only
    when this connection's differ, and the statement as a server-side prepared statement, so
    PostgreSQL plans it once per connection instead of every time (0.5 ms of a 4 ms search at
    1M). Nothing else here sets hnsw.* or PREPAREs, and neither is undone by a later rollback
    when done outside a transaction."""
    name, prepared_sql, names = _prepared(statement, params.get("limit"), params.get("k"))
    execute = f"EXECUTE {name}({', '.join(['%s'] * len(names))})" if names else f"EXECUTE {name}"
    values = [params[n] for n in names]
    for attempt in (1, 2):
        raw = connection.connection
        session = getattr(connection, "_mvsim_session", None)
        if session is None or session.raw is not raw:
            session = connection._mvsim_session = _Session(raw)
        send_settings = session.settings != (ef, iterative)
        send_prepare = name not in session.prepared
        try:
            if not (send_settings or send_prepare):
                cursor.execute(execute, values)
                return cursor.fetchall()
            with raw.pipeline():
                if send_settings:
                    cursor.execute(_SET_SEARCH_PARAMETERS, [ef, False, iterative, False])
                if send_prepare:
                    cursor.execute(f"PREPARE {name} AS {prepared_sql}")
                cursor.execute(execute, values)
                rows = cursor.fetchall()
        except Exception as exc:
            # Whatever failed, the server's state is no longer known: start afresh (a PREPARE
            # that went through before an error would otherwise make every later PREPARE of
            # that name fail for the rest of the connection's life).
            _forget_session(raw)
            # 26000: the prepared statement is gone (DISCARD ALL, a pooler): prepare again.
            if attempt == 1 and getattr(exc.__cause__, "sqlstate", None) == "26000":
                continue
            raise
        session.settings = (ef, iterative)  # only once everything succeeded
        session.prepared.add(name)
        return rows
    raise AssertionError("unreachable")


def _forget_session(raw) -> None:
    connection._mvsim_session = None
    if raw.closed:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
    except Exception:  # a broken connection: Django opens a new one, with nothing prepared
        pass


@functools.lru_cache(maxsize=512)
def _prepared(statement: str, limit: int | None, k: int | None) -> tuple[str, str, tuple]:
    """(name, SQL with $n placeholders, parameter names in $n order) for PREPARE.

    The LIMITs become literals: with ``LIMIT $n`` a generic plan would have to guess the row
    count and might prefer a sequential scan to the HNSW index.
    """
    if limit is not None:
        statement = statement.replace("%(limit)s", str(int(limit)))
    if k is not None:
        statement = statement.replace("%(k)s", str(int(k)))
    names: list[str] = []

    def positional(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", positional, statement)
    name = "mvsim_knn_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
    return name, sql, tuple(names)


_SET_SEARCH_PARAMETERS = (
    "SELECT set_config('hnsw.ef_search', %s, %s), set_config('hnsw.iterative_scan', %s, %s)"
)


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
    settings = SearchSettings.cached()
    boost = settings.genre_boost if boost is None else boost
    ef_search = settings.ef_search if ef_search is None else ef_search
    _validate(representation, metric, k, boost, pool, ef_search)

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
    # bit farther away may overtake); with nothing to boost the order is the index's, and
    # the k nearest are all we need.
    boosting = query_genre_id is not None and boost < 1
    pool_size = k * max(settings.candidate_pool_factor, MIN_POOL_FACTOR) if boosting else k
    knn, params = _knn(
        probe, representation, metric, pool_size, pool, genre, exclude or Exclusions(), exact
    )
    params.update(query_genre_id=query_genre_id, boost=float(boost), k=k)
    # The query video itself passes the index before the filter drops it: one more slot in
    # the first pass saves a second (iterative) pass over the graph.
    ef = max(ef_search, pool_size + (exclude is not None))
    statement = ranked_statement(knn)
    # One pass over the graph is enough when the filters cannot starve it: the catalog pool
    # (nearly every indexed row is a ready catalog video; past queries are a small minority,
    # so that pool goes straight to iterative scans), no genre filter, and ef_search at least
    # twice the LIMIT. Fewer than k rows back means it was not, and the search runs again
    # with iterative scans.
    single_pass = pool == "catalog" and genre is None and not exact and ef >= 2 * pool_size
    mode = SINGLE_PASS if single_pass else RELAXED
    rows = _run(statement, params, ef_search=ef, exact=exact, iterative=mode)
    if single_pass and len(rows) < k:
        rows = _run(statement, params, ef_search=ef, exact=exact)
    if not rows:
        _explain_no_results(query, representation, metric)
        return []
    return [_match(row, rank, metric) for rank, row in enumerate(rows, start=1)]


_VIDEO_FIELDS = [f.attname for f in Video._meta.concrete_fields]
_GENRE_FIELDS = [f.attname for f in Genre._meta.concrete_fields]


def _match(row: tuple, rank: int, metric: str) -> Match:
    """A ranked_statement row → Match, its Video with both genres attached (no more queries)."""
    n_video, n_genre = len(_VIDEO_FIELDS), len(_GENRE_FIELDS)
    db = connection.alias
    video = Video.from_db(db, _VIDEO_FIELDS, row[:n_video])
    genre_values = row[n_video : n_video + n_genre]
    predicted_values = row[n_video + n_genre : n_video + 2 * n_genre]
    video.genre = Genre.from_db(db, _GENRE_FIELDS, genre_values) if video.genre_id else None
    video.predicted_genre = (
        Genre.from_db(db, _GENRE_FIELDS, predicted_values) if video.predicted_genre_id else None
    )
    distance, boosted, same = row[-3:]
    return Match(
        video=video,
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
