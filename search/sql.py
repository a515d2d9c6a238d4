"""The SQL of a k-NN search and the one way it is executed.

Statements are built once per shape (``functools.lru_cache``) from the models' table and column
names, every value a parameter except the LIMITs, which are literals: a prepared statement's
generic plan then knows how few rows are wanted and keeps the HNSW index (with ``LIMIT $n`` it
has to guess and may prefer a sequential scan). ``search.ranking`` decides what to run (pool,
boost, exclusions, retries); this module only builds and runs it.
"""

from __future__ import annotations

import functools

from django.db import connection, transaction
from django.db.backends.postgresql.base import ServerBindingCursor

from catalog.models import Genre, Video
from search.choices import Metric
from search.models import VideoVector

EF_SEARCH_MAX = 1000
RELAXED, SINGLE_PASS = "relaxed_order", "off"  # hnsw.iterative_scan modes


@functools.lru_cache(maxsize=1024)
def knn_statement(
    representation: str,
    metric: str,
    limit: int,
    *,
    by_video: bool,
    genre: bool,
    exclude_id: bool,
    exclude_youtube: bool,
    exclude_sha256: bool,
    exact: bool,
) -> str:
    """The k-NN SQL for one shape of search: ``(video_id, distance, genre_id,
    predicted_genre_id)`` of up to ``limit`` ready videos of one pool, nearest first.

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
        f"ORDER BY {'2, 1' if exact else '2'} LIMIT {int(limit)}"
    )


@functools.lru_cache(maxsize=1024)
def ranked_statement(knn: str, k: int) -> str:
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
        f"ORDER BY boosted, pool.distance, v.id LIMIT {int(k)}"
    )


_SET_LOCAL = (
    "SELECT set_config('hnsw.ef_search', %(ef)s, true), "
    "set_config('hnsw.iterative_scan', %(iterative)s, true), "
    "set_config('enable_indexscan', %(indexscan)s, true)"
)


def run_search(
    statement: str, params: dict, *, ef_search: int, exact: bool, iterative: str = RELAXED
) -> list[tuple]:
    """Execute a search statement with the HNSW settings it needs, in one round trip.

    The settings are ``SET LOCAL``, pipelined with the statement, in a transaction of the
    search's own (or the caller's: no savepoint, as for any other query), so nothing outlives
    it and no pooled connection keeps them. ``iterative``: RELAXED
    (``hnsw.iterative_scan = relaxed_order``) keeps reading the index until enough rows pass
    the filters (pool, status, exclusions, genre) instead of stopping after ef_search
    candidates; a later pass may return rows slightly out of order, which the statements
    re-sort. (strict_order was tried: it drops
    nearer rows found late instead, 14 wrong top-10s in 60 filtered queries vs 2.) SINGLE_PASS
    (``off``) returns at most ef_search candidates but skips the iterative bookkeeping (~0.4 ms
    of 3 ms at 1M). ``exact`` turns index scans off: an exact (sequential) search.
    """
    values = {
        "ef": str(min(EF_SEARCH_MAX, ef_search)),
        "iterative": iterative,
        "indexscan": "off" if exact else "on",
    }
    nested = connection.in_atomic_block
    with transaction.atomic(savepoint=False):
        raw = connection.connection
        # Server-side binding, so psycopg prepares the statement after it has run 5 times on this
        # connection (DATABASES OPTIONS prepare_threshold): PostgreSQL then plans a search once
        # per connection and shape, not every time (0.5 ms of a 4 ms search at 1M). Django's
        # wrappers keep query logging and execute_wrapper hooks working.
        wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
        with wrap(ServerBindingCursor(raw)) as cursor:
            with raw.pipeline():
                cursor.execute(_SET_LOCAL, values)
                cursor.execute(statement, params)
                rows = cursor.fetchall()
            if nested and exact:
                # SET LOCAL lasts until the caller's transaction ends: give it its index back.
                cursor.execute("SELECT set_config('enable_indexscan', 'on', true)")
    return rows
