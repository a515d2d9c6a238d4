"""The SQL of a k-NN search and the one way it is executed.

Statements are built once per shape (``functools.lru_cache``) from the models' table and column
names, every value a parameter except the LIMITs, which are literals: a prepared statement's
generic plan then knows how few rows are wanted and keeps the HNSW index (with ``LIMIT $n`` it
has to guess and may prefer a sequential scan). ``search.ranking`` decides what to run (pool,
boost, exclusions, retries); this module only builds and runs it.
"""

from __future__ import annotations

import functools

from django.db import connection, connections, router, transaction
from django.db.backends.postgresql.base import ServerBindingCursor

from catalog.models import Genre, Video
from features.models import VideoFeatures
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
    min_duration: bool = False,
    max_duration: bool = False,
    tags: int = 0,
    artist: bool = False,
) -> str:
    """The k-NN SQL for one shape of search: ``(video_id, distance, genre_id,
    predicted_genre_id)`` of up to ``limit`` ready videos of one pool, nearest first
    (``artist``: a fifth column, the artist key of the artist cap, '' for no artist).

    Filters are WHERE clauses the iterative index scan checks per candidate, so the HNSW index
    still serves them: ``min_duration``/``max_duration`` (seconds), and ``tags`` tag
    conditions, each "probability of tag ``%(tag_i)s`` (1-based) >= ``%(tag_min)s``" on the
    video's mean MusiCNN tags from the checkpoint ``%(music_model)s`` (search.tags).

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
    if min_duration:
        where.append("v.duration_seconds >= %(min_duration)s")
    if max_duration:
        where.append("v.duration_seconds <= %(max_duration)s")
    joins = ""
    if tags:
        joins = f" JOIN {VideoFeatures._meta.db_table} vf ON vf.video_id = vv.video_id"
        where.append("vf.music_model = %(music_model)s")
        # One clause however many tags: the planner guesses 1/3 for an expression like this,
        # and a guess per tag (1/3^n) would soon make the HNSW path look worse than an exact
        # scan of the whole catalog.
        each = ", ".join(f"(vf.music_tags::real[])[%(tag_{i})s::int]" for i in range(tags))
        where.append(f"LEAST({each}) >= %(tag_min)s")
    extra = ", lower(btrim(v.artist)) AS artist" if artist else ""
    # Only the distance in ORDER BY so the HNSW index can serve it; exact ties are broken by
    # ranked_statement's outer ORDER BY (and here when exact, where a second key is free).
    return (
        f"SELECT vv.video_id, vv.{column} {operator} {probe} AS distance, "
        f"v.genre_id, v.predicted_genre_id{extra} "
        f"FROM {vectors} vv JOIN {videos} v ON v.id = vv.video_id{joins} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {'2, 1' if exact else '2'} LIMIT {int(limit)}"
    )


def result_columns() -> str:
    """The columns every result row starts with: Video's concrete fields (alias ``v``), then
    the curated genre's (``g``) and the predicted genre's (``pg``); see video_from_row."""
    quote = connection.ops.quote_name
    columns = [f"v.{quote(f.column)}" for f in Video._meta.concrete_fields]
    for alias in ("g", "pg"):
        columns += [f"{alias}.{quote(f.column)}" for f in Genre._meta.concrete_fields]
    return ", ".join(columns)


def genre_joins() -> str:
    genres = Genre._meta.db_table
    return (
        f"LEFT JOIN {genres} g ON g.id = v.genre_id "
        f"LEFT JOIN {genres} pg ON pg.id = v.predicted_genre_id "
    )


_VIDEO_FIELDS = [f.attname for f in Video._meta.concrete_fields]
_GENRE_FIELDS = [f.attname for f in Genre._meta.concrete_fields]
ROW_WIDTH = len(_VIDEO_FIELDS) + 2 * len(_GENRE_FIELDS)  # result_columns()


def video_from_row(row: tuple) -> Video:
    """The Video of a row that starts with result_columns(), both genres attached (no more
    queries when pages and the API read them)."""
    n_video, n_genre = len(_VIDEO_FIELDS), len(_GENRE_FIELDS)
    db = router.db_for_read(Video)  # where run_search read it (mvsite/db_routers.py)
    video = Video.from_db(db, _VIDEO_FIELDS, row[:n_video])
    genre_values = row[n_video : n_video + n_genre]
    predicted_values = row[n_video + n_genre : n_video + 2 * n_genre]
    video.genre = Genre.from_db(db, _GENRE_FIELDS, genre_values) if video.genre_id else None
    video.predicted_genre = (
        Genre.from_db(db, _GENRE_FIELDS, predicted_values) if video.predicted_genre_id else None
    )
    return video


@functools.lru_cache(maxsize=1024)
def ranked_statement(knn: str, k: int, *, capped: bool = False) -> str:
    """One statement for a whole search: the k-NN pool (``knn``, a knn_statement), re-ranked
    with the boost, and the k winners' Video rows with both genres joined, so a search is a
    single round trip. Output columns: result_columns(), then distance, boosted distance,
    same-genre flag, and two facts about the pool that tell whether a larger one could change
    the answer (search.ranking): its row count and its farthest distance.

    ``capped`` (``knn`` built with ``artist=True``): at most ``%(max_per_artist)s`` rows per
    artist, counted in the boosted order (``row_number() OVER (PARTITION BY artist …)``, so
    the cap applies after the boost re-rank), videos without an artist never capped."""
    videos = Video._meta.db_table
    # %(query_genre_id)s IN (...) is NULL (not boosted) for a query without a genre.
    same = "COALESCE(%(query_genre_id)s IN (pool.genre_id, pool.predicted_genre_id), false)"
    boosted = f"CASE WHEN {same} THEN pool.distance * %(boost)s ELSE pool.distance END"
    # NULL: the query video has no vector; NaN: cosine of a zero vector.
    valid = "pool.distance IS NOT NULL AND pool.distance <> 'NaN'::float8"
    extent = (
        "(SELECT count(*) FROM pool) AS pool_rows, "
        f"(SELECT max(pool.distance) FROM pool WHERE {valid}) AS pool_reach"
    )
    if not capped:
        return (
            f"WITH pool AS MATERIALIZED ({knn}) "
            f"SELECT {result_columns()}, pool.distance, {boosted} AS boosted, "
            f"{same} AS same_genre, {extent} "
            f"FROM pool JOIN {videos} v ON v.id = pool.video_id {genre_joins()}"
            f"WHERE {valid} "
            f"ORDER BY boosted, pool.distance, v.id LIMIT {int(k)}"
        )
    return (
        f"WITH pool AS MATERIALIZED ({knn}), "
        f"scored AS (SELECT pool.video_id, pool.distance, pool.artist, {boosted} AS boosted, "
        f"{same} AS same_genre FROM pool WHERE {valid}), "
        "ranked AS (SELECT scored.*, row_number() OVER (PARTITION BY scored.artist "
        "ORDER BY scored.boosted, scored.distance, scored.video_id) AS artist_rank "
        "FROM scored) "
        f"SELECT {result_columns()}, ranked.distance, ranked.boosted, ranked.same_genre, "
        f"{extent} "
        f"FROM ranked JOIN {videos} v ON v.id = ranked.video_id {genre_joins()}"
        "WHERE ranked.artist_rank <= %(max_per_artist)s OR ranked.artist = '' "
        f"ORDER BY ranked.boosted, ranked.distance, v.id LIMIT {int(k)}"
    )


_SET_LOCAL = (
    "SELECT set_config('hnsw.ef_search', %(ef)s, true), "
    "set_config('hnsw.iterative_scan', %(iterative)s, true), "
    "set_config('enable_indexscan', %(indexscan)s, true), "
    "set_config('plan_cache_mode', %(plan_cache)s, true)"
)


def run_search(
    statement: str,
    params: dict,
    *,
    ef_search: int,
    exact: bool,
    iterative: str = RELAXED,
    custom_plan: bool = False,
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
    ``custom_plan``: plan this execution with its values (``plan_cache_mode =
    force_custom_plan``) instead of the prepared statement's generic plan — for a duration
    range, whose generic plan guesses that 0.5 % of the catalog passes ``>= $1 AND <= $2``
    and so scans and sorts the whole catalog instead of walking the index (44 ms instead of
    11 ms at 20k videos); the planning costs ~0.5 ms.
    """
    values = {
        "ef": str(min(EF_SEARCH_MAX, ef_search)),
        "iterative": iterative,
        "indexscan": "off" if exact else "on",
        "plan_cache": "force_custom_plan" if custom_plan else "auto",
    }
    # The database the router picks for search reads: a replica inside
    # mvsite.db_routers.search_reads() when one is configured, else default.
    alias = router.db_for_read(VideoVector)
    connection = connections[alias]
    nested = connection.in_atomic_block
    with transaction.atomic(using=alias, savepoint=False):
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
