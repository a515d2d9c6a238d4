"""Benchmark: k-NN search at 1k / 100k / 1M videos on the real schema, and the old approach.

Run: ``.venv/bin/python bench/search.py [--sizes 100000,1000000] [--quick] [--keep]``
(``--discovery``: only the 100k catalog's plain search rows and issue 14's rows below, ~10 min)

Everything happens in a separate database, ``mvsim_bench``, on the embedded server (never the
dev database): migrations create the real tables, synthetic catalogs are loaded by binary
COPY, the HNSW indexes are built (timed), then for ``code`` (40-d), ``music`` (200-d, the
MusiCNN embedding) and ``both`` (422-d; music and both below 1M unless allowed):

- p50/p95 latency of k=10 through ``search.ranking.find_similar`` with a vector query (the
  application's path: cached settings, the hnsw.* settings and the search statement in one
  round trip, the k Video rows with their genres built as model instances);
- recall@10 of that (HNSW) path against exact NumPy search over the same stored vectors;
- the same from catalog videos with the genre boost on (pool of k x 10 re-ranked), recall
  against the exact boosted ranking;
- at 100k, ``GET /api/videos/{id}/similar/`` through Django's test client (with its
  explanations, so the query and match videos get segments), plain and with the artist cap,
  a duration range and a music-tag filter (durations and tag vectors loaded for the whole
  catalog), and ``GET /api/tags/search/`` (the catalog ranked by two tags);
- at 100k, issue 14's discovery rows through the API, next to the plain rows of the same run:
  similar with versions collapsed + artist cap + genre + duration range + tag filter, with
  ``versions=all`` (what collapsing costs) and the plain search again, each video's three
  requests interleaved; ``POST /api/searches/`` with 5 seeds, ``fusion``
  and ``centroid`` (and fusion with one excluded video); a playlist of 50 ordered as a smooth
  path (``PATCH /api/playlists/{id}/`` with ``order``, and ``POST`` creating one ordered);
- at 1k, the original project's approach as a baseline: one row per segment per feature
  value and a SQL join computing the weighted Euclidean distance, aggregated per video.

Synthetic vectors are low-rank and clustered like real ones: 10 genre clusters in a 20-d
latent space, a random projection to 40 / 422 dimensions, plus noise. The database is
dropped at the end unless ``--keep``. Prints a Markdown table (also bench/out/search.md).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# MVSIM_BENCH_DB: another name, so two runs on one server do not drop each other's database.
BENCH_DB = os.environ.get("MVSIM_BENCH_DB", "mvsim_bench")
# Before Django reads its settings: the bench database, and no per-query logging.
os.environ["MVSIM_DB_NAME"] = BENCH_DB
os.environ["DEBUG"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvsite.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The API rows time the search, not the client's budget of submissions (POST /api/searches/ is
# throttled at 30 a minute) nor Redis answering a repeated request from the result cache.
os.environ["MVSIM_SEARCH_RATE"] = "off"
os.environ.setdefault("MVSIM_RESULT_CACHE_SECONDS", "0")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench.synthetic import (  # noqa: E402
    CLUSTERS,
    PGCOPY_HEADER,
    PGCOPY_TRAILER,
    Generator,
    binary_copy_payload,
    pg_now,
    video_rows_text,
)
from catalog.models import Genre, Video  # noqa: E402
from features.models import AUDIO_DIM, BOTH_DIM, VISUAL_DIM  # noqa: E402
from mvsite import services  # noqa: E402
from playlists import services as playlist_services  # noqa: E402
from playlists.models import Playlist  # noqa: E402
from search import seeds as seed_search  # noqa: E402
from search.explain import explain_many  # noqa: E402
from search.models import FeatureStats, SearchSettings  # noqa: E402
from search.ranking import find_similar, nearest_rows  # noqa: E402
from search.tags import model_name, vocabulary  # noqa: E402

K = 10
SEGMENTS_PER_VIDEO = 18  # a 3-minute video in 10 s segments
BOTH_1M_BUDGET_S = 15 * 60  # build 'both' at 1M only if the estimate stays under this


@dataclass
class Row:
    catalog: str
    what: str
    metric: str
    build: str = ""
    p50: float | None = None
    p95: float | None = None
    recall: float | None = None
    notes: list[str] = field(default_factory=list)


ROWS: list[Row] = []
LAST_CPU = [0.0]  # median Python CPU ms of the last measurement (the machine is shared)
LAST_KNN = [0.0]  # median ms of the k-NN ORM query alone, last measurement


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def fmt_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)


# --------------------------------------------------------------------------- database


def raw_connection(dbname: str = BENCH_DB) -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=dbname, autocommit=True
    )


def prepare_database() -> None:
    assert settings.DATABASES["default"]["NAME"] == BENCH_DB, "refusing to touch another DB"
    services.postgres_up()  # idempotent; creates mvsim_bench
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    connections.close_all()
    with raw_connection("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def sql(statement: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


HNSW = {  # (column, opclass) -> index name, as in search/models.py
    (col, ops): f"vv_{col}_{suffix}_hnsw"
    for col in ("audio", "visual", "both", "code", "music")
    for ops, suffix in (("vector_l2_ops", "l2"), ("vector_cosine_ops", "cos"))
}
OPCLASS = {"cosine": "vector_cosine_ops", "euclidean": "vector_l2_ops"}


def drop_hnsw_indexes() -> None:
    for name in HNSW.values():
        sql(f"DROP INDEX IF EXISTS {name}")


def build_index(column: str, metric: str) -> float:
    name = HNSW[(column, OPCLASS[metric])]
    sql("SET maintenance_work_mem = '3GB'")
    sql("SET max_parallel_maintenance_workers = 1")  # 2 cores: leader + 1 worker
    started = time.perf_counter()
    sql(
        f'CREATE INDEX {name} ON search_videovector USING hnsw ("{column}" {OPCLASS[metric]}) '
        "WITH (m = 16, ef_construction = 64)"
    )
    return time.perf_counter() - started


def restore_indexes() -> None:
    """Put back every index the migrations define (for --keep), on whatever is loaded."""
    for (column, ops), name in HNSW.items():
        sql(
            f"CREATE INDEX IF NOT EXISTS {name} ON search_videovector "
            f'USING hnsw ("{column}" {ops}) '
            "WITH (m = 16, ef_construction = 64)"
        )


# --------------------------------------------------------------------------- data


def catalog_columns() -> list[tuple[str, str, str]]:
    return sql(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'catalog_video' ORDER BY ordinal_position"
    )


def load_catalog(
    n: int, gen: Generator, with_both: bool, chunk: int = 100_000
) -> dict[str, np.ndarray]:
    """COPY n videos and their vectors; returns the stored vectors (for exact search)."""
    sql("TRUNCATE catalog_video RESTART IDENTITY CASCADE")
    drop_hnsw_indexes()
    for i in range(CLUSTERS - Genre.objects.count()):
        Genre.objects.create(name=f"Bench genre {i}")
    genre_ids = list(Genre.objects.order_by("id").values_list("id", flat=True)[:CLUSTERS])
    rng = np.random.default_rng(n)
    kept: dict[str, list[np.ndarray]] = {"code": [], "both": [], "music": []}
    started = time.perf_counter()
    with raw_connection() as conn:
        for first in range(0, n, chunk):
            ids = np.arange(first + 1, min(n, first + chunk) + 1, dtype=np.int64)
            latent, genres = gen.latent(len(ids), rng)
            text = video_rows_text(ids, genres, genre_ids, catalog_columns())
            header, body = text.split("\n", 1)
            with conn.cursor().copy(f"COPY catalog_video ({header}) FROM STDIN") as copy:
                copy.write(body)
            vectors = [("code", gen.project(latent, "code", rng))]
            if with_both:
                vectors.append(("both", gen.project(latent, "both", rng)))
                vectors.append(("music", gen.project(latent, "music", rng)))
            for name, values in vectors:
                kept[name].append(values)
            columns = [("video_id", ids), *vectors, ("updated_at", pg_now(len(ids)))]
            names = ", ".join(f'"{name}"' for name, _ in columns)  # "both" is a keyword
            with conn.cursor().copy(
                f"COPY search_videovector ({names}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(PGCOPY_HEADER + binary_copy_payload(columns) + PGCOPY_TRAILER)
        conn.execute("SELECT setval(pg_get_serial_sequence('catalog_video', 'id'), %s)", [n])
    log(f"loaded {n:,} videos by COPY in {time.perf_counter() - started:.1f} s")
    # A serving table has been vacuumed: without this the first reads of each freshly
    # COPYed page set its hint bits (writes), and autovacuum's insert-triggered pass over
    # the whole table would run during the measurements. Before the HNSW builds, it is cheap.
    started = time.perf_counter()
    sql("VACUUM (FREEZE, ANALYZE) catalog_video")
    sql("VACUUM (FREEZE, ANALYZE) search_videovector")
    log(f"vacuumed (freeze, analyze) in {time.perf_counter() - started:.1f} s")
    return {name: np.vstack(parts) for name, parts in kept.items() if parts}


def load_segments(video_ids: list[int], rng: np.random.Generator) -> None:
    """18 segments per video (for the API's explanations), by binary COPY."""
    n = len(video_ids) * SEGMENTS_PER_VIDEO
    ids = np.repeat(np.asarray(video_ids, dtype=np.int64), SEGMENTS_PER_VIDEO)
    index = np.tile(np.arange(SEGMENTS_PER_VIDEO, dtype=np.int64), len(video_ids))
    payload = binary_copy_payload(
        [
            ("video_id", ids),
            ("idx", index),
            ("audio", rng.normal(size=(n, AUDIO_DIM)).astype(np.float32)),
            ("visual", rng.normal(size=(n, VISUAL_DIM)).astype(np.float32)),
        ]
    )
    sql("TRUNCATE features_segment")
    with raw_connection() as conn:
        # start/end come from the index; `index` is an integer column, COPY wants int8 here.
        conn.execute(
            "CREATE TEMP TABLE seg_in (video_id bigint, idx bigint, audio vector(68), "
            "visual vector(354))"
        )
        with conn.cursor().copy("COPY seg_in FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(PGCOPY_HEADER + payload + PGCOPY_TRAILER)
        conn.execute(
            'INSERT INTO features_segment (video_id, "index", start_seconds, end_seconds, '
            "audio, visual, thumbnail) SELECT video_id, idx, idx * 10.0, idx * 10.0 + 10, "
            "audio, visual, '' FROM seg_in"
        )
    # VACUUM, not only ANALYZE: otherwise autovacuum's insert-triggered pass over the new
    # segments and the checkpointer's writes land in the first API row measured (a plain
    # search once came out at 53 ms, against 21 ms for the same search a minute later).
    sql("VACUUM (ANALYZE) features_segment")
    sql("CHECKPOINT")


GENRE_TAGS = 5  # tags each genre cluster carries strongly in the synthetic tag vectors


def load_tags_and_durations(n: int, rng: np.random.Generator) -> dict[int, str]:
    """Durations spread over 60-480 s and a features row with mean music tags for every video:
    each genre's videos carry 5 of the 50 tags at 0.2-0.7, the rest at 0-0.08 (like MusiCNN's
    sigmoids; the filter's threshold is 0.1). Returns each genre id's first strong tag."""
    sql("UPDATE catalog_video SET duration_seconds = 60 + (id * 7919) %% 421")
    pairs = np.array(sql("SELECT id, genre_id FROM catalog_video"), dtype=np.int64)
    ids, genre_ids = pairs[:, 0], pairs[:, 1]
    genres = sorted(set(genre_ids.tolist()))
    strong = {g: rng.choice(50, GENRE_TAGS, replace=False) for g in genres}
    tags = rng.uniform(0, 0.08, (len(ids), 50)).astype(np.float32)
    for g, columns in strong.items():
        rows = np.flatnonzero(genre_ids == g)
        tags[np.ix_(rows, columns)] = rng.uniform(0.2, 0.7, (len(rows), GENRE_TAGS))
    payload = binary_copy_payload([("video_id", ids.astype(np.int64)), ("tags", tags)])
    sql("TRUNCATE features_videofeatures")
    with raw_connection() as conn:
        conn.execute("CREATE TEMP TABLE tags_in (video_id bigint, tags vector(50))")
        with conn.cursor().copy("COPY tags_in FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(PGCOPY_HEADER + payload + PGCOPY_TRAILER)
        conn.execute(
            "INSERT INTO features_videofeatures (video_id, segment_count, audio_mean, "
            "visual_mean, music_tags, music_model, extracted_at, poster) "
            f"SELECT video_id, {SEGMENTS_PER_VIDEO}, "
            f"array_fill(0::real, ARRAY[{AUDIO_DIM}])::vector, "
            f"array_fill(0::real, ARRAY[{VISUAL_DIM}])::vector, tags, %s, now(), '' "
            "FROM tags_in",
            [model_name()],
        )
    sql("VACUUM (ANALYZE) catalog_video")
    sql("VACUUM (ANALYZE) features_videofeatures")
    for relation in ("features_videofeatures", "features_videofeatures_pkey", "catalog_video"):
        sql(f"SELECT pg_prewarm('{relation}')")
    log(f"{n:,} tag vectors and durations loaded")
    names = vocabulary()
    return {g: names[int(strong[g][0])] for g in genres}


def filtered_query(genre_tag: dict[int, str], video: Video) -> str:
    """The artist cap, a duration filter and a tag filter (a tag of the query's genre)."""
    tag = genre_tag[video.genre_id].replace(" ", "%20")
    return f"max_per_artist=2&min_duration=120&max_duration=420&tags={tag}"


def identity_generation() -> None:
    """The bench vectors are generated in search space: stats mean 0, std 1, weights 1."""
    FeatureStats(
        mean=np.zeros(BOTH_DIM),
        std=np.ones(BOTH_DIM),
        feature_weights=np.ones(BOTH_DIM),
        n_videos=0,
        fitted_at=datetime.now(UTC),
    ).save()


# --------------------------------------------------------------------------- measuring


def exact_top_k(matrix: np.ndarray, queries: np.ndarray, metric: str) -> list[list[int]]:
    """Exact top-k video ids (ids are row + 1) with NumPy, in chunks."""
    out = []
    if metric == "cosine":
        m = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    for q in queries:
        if metric == "cosine":
            d = 1 - m @ (q / np.linalg.norm(q))
        else:
            d = ((matrix - q) ** 2).sum(axis=1)
        top = np.argpartition(d, K)[:K]
        out.append([int(i) + 1 for i in top[np.argsort(d[top])]])
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def measure_orm(
    column: str, metric: str, queries: np.ndarray, stored: np.ndarray | None
) -> tuple[float, float, float | None]:
    for q in queries[:20]:  # warm the caches
        find_similar(q, representation=column, metric=metric, k=K)
    times, cpu, found = [], [], []
    for q in queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        matches = find_similar(q, representation=column, metric=metric, k=K)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        found.append([m.video.pk for m in matches])
    p50, p95 = percentiles(times)
    LAST_CPU[0] = statistics.median(cpu)
    # The k-NN query alone, as find_similar runs it for a vector query (LIMIT k: no genre, so
    # no boost and no pool), without the re-ranking and the Video rows.
    ef = SearchSettings.load().ef_search
    knn = []
    for q in queries:
        started = time.perf_counter()
        nearest_rows(q, representation=column, metric=metric, limit=K, ef_search=ef)
        knn.append((time.perf_counter() - started) * 1000)
    LAST_KNN[0] = statistics.median(knn)
    recall = None
    if stored is not None:
        truth = exact_top_k(stored, queries, metric)
        recall = float(
            np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
        )
    return p50, p95, recall


def measure_preparing(size: str, column: str, metric: str, queries: np.ndarray) -> Row:
    """The same vector queries with psycopg's prepared statements on and off (off: every
    search planned again, as with MVSIM_SEARCH_PREPARED_STATEMENTS=0), alternating three
    rounds of each so load from other work hits both alike: what preparing saves."""
    raw = connection.connection
    threshold = raw.prepare_threshold
    p50s: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(3):
            for prepared in (True, False):
                raw.prepare_threshold = threshold if prepared else None
                p50s[prepared].append(measure_orm(column, metric, queries, None)[0])
    finally:
        raw.prepare_threshold = threshold
    on, off = (statistics.median(p50s[m]) for m in (True, False))
    log(f"{size} {column}/{metric} prepared {p50s[True]} vs not {p50s[False]}")
    return Row(
        size,
        f"find_similar, {column}: prepared vs baseline not prepared (3 alternating rounds)",
        metric,
        p50=on,
        notes=[
            f"p50 prepared {' / '.join(f'{v:.2f}' for v in p50s[True])} ms, not prepared "
            f"{' / '.join(f'{v:.2f}' for v in p50s[False])} ms (median {off:.2f}): "
            f"preparing saves {off - on:.2f} ms"
        ],
    )


def measure_video_queries(column: str, metric: str, ids: list[int]) -> Row:
    """find_similar from catalog videos, genre boost on (pool k x factor re-ranked), against
    the same search done exactly (sequential scan, same boost)."""
    videos = Video.objects.in_bulk(ids)
    queries = [videos[pk] for pk in ids]
    for video in queries[:10]:
        find_similar(video, representation=column, metric=metric, k=K)
    times, found = [], []
    for video in queries:
        started = time.perf_counter()
        matches = find_similar(video, representation=column, metric=metric, k=K)
        times.append((time.perf_counter() - started) * 1000)
        found.append({m.video.pk for m in matches})
    checked = queries[:20]
    truth = [
        {m.video.pk for m in find_similar(v, representation=column, metric=metric, k=K, exact=True)}
        for v in checked
    ]
    recall = float(np.mean([len(f & t) / K for f, t in zip(found, truth, strict=False)]))
    p50, p95 = percentiles(times)
    settings_row = SearchSettings.load()
    pool = K * settings_row.candidate_pool_factor
    return Row(
        "",
        f"find_similar, {column}, Video query, genre boost {settings_row.genre_boost}",
        metric,
        p50=p50,
        p95=p95,
        recall=recall,
        notes=[
            f"{len(queries)} catalog videos as queries; pool {pool} re-ranked; recall against "
            f"the exact boosted ranking of {len(checked)} of them"
        ],
    )


def uses_index(column: str, metric: str, query: np.ndarray) -> bool:
    sent: list[tuple[str, dict]] = []

    def record(execute, statement, params, many, context):
        sent.append((statement, params))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        find_similar(query, representation=column, metric=metric, k=K)
    operator = "<=>" if metric == "cosine" else "<->"
    knn, params = next((s, p) for s, p in sent if operator in s)
    plan = "\n".join(row[0] for row in sql("EXPLAIN " + knn, params))
    return HNSW[(column, OPCLASS[metric])] in plan


def measure_api(size: str, query_ids: list[int], rng: np.random.Generator) -> dict[int, str] | None:
    """The API rows; returns each genre's strong tag (load_tags_and_durations), None when
    the API is not there."""
    from django.test import Client

    try:
        from django.urls import reverse

        reverse("api-video-similar", args=[1])
        note = "search.api view (DRF), with explanations (3 segment pairs per match)"
    except Exception:  # the API view is not there: a plain JSON view over find_similar
        note = None
    if note is None:
        ROWS.append(Row(size, "API /api/videos/{id}/similar/", "-", notes=["not importable"]))
        return None
    identity_generation()
    genre_tag = load_tags_and_durations(Video.objects.count(), rng)
    videos = Video.objects.in_bulk(query_ids)
    filters = {pk: filtered_query(genre_tag, videos[pk]) for pk in query_ids}
    # Segments for the query videos and everything they return (finding those first), so
    # each explanation has 18 x 18 segment pairs to compare, as in production.
    involved = set(query_ids)
    for column in ("code", "both"):
        for pk in query_ids:
            video = videos[pk]
            involved |= {
                m.video.pk for m in find_similar(video, representation=column, metric="cosine", k=K)
            }
            tag = genre_tag[video.genre_id]
            involved |= {
                m.video.pk
                for m in find_similar(
                    video,
                    representation=column,
                    metric="cosine",
                    k=K,
                    max_per_artist=2,
                    min_duration=120,
                    max_duration=420,
                    tags=(tag,),
                )
            }
    load_segments(sorted(involved), rng)
    client = Client()
    for column in ("code", "both"):
        plain = [
            f"/api/videos/{pk}/similar/?representation={column}&metric=cosine&k={K}"
            for pk in query_ids
        ]
        filtered = [f"{url}&{filters[pk]}" for url, pk in zip(plain, query_ids, strict=True)]
        for label, urls in (("", plain), (" + artist cap 2, 120-420 s, a genre tag", filtered)):
            for url in urls[:10]:
                response = client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code} {response.content[:300]}")
            times, cpu, counts = [], [], []
            for url in urls:
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200
                counts.append(len(response.json()["matches"]))
            extra = ""
            if label:
                indexed = filtered_uses_index(column, videos[query_ids[0]], genre_tag)
                extra = (
                    f"; {sum(c == K for c in counts)}/{len(counts)} answers with all {K} "
                    f"matches; HNSW index {'used' if indexed else 'NOT used'} (EXPLAIN)"
                )
            add_similar_row(
                size,
                column,
                label,
                times,
                f"{note}; {len(urls)} videos; {counts[-1]} matches; "
                f"client CPU p50 {statistics.median(cpu):.1f} ms{extra}",
            )
        # The same work with the explanations batched (search.explain.explain_many).
        times = []
        for pk in query_ids:
            started = time.perf_counter()
            matches = find_similar(videos[pk], representation=column, metric="cosine", k=K)
            explain_many(videos[pk], [m.video for m in matches], column, "cosine")
            times.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(times)
        ROWS.append(
            Row(
                size,
                f"find_similar + explain_many, Video query ({column})",
                "cosine",
                p50=p50,
                p95=p95,
                notes=["what the API costs with its 10 explanations batched in 3 queries"],
            )
        )
    measure_tag_search(size, client, genre_tag, rng)
    return genre_tag


DISCOVERY_COLUMNS = ("code", "both")
SEEDS_PER_SEARCH = 5
PLAYLIST_LENGTH = 50


def add_similar_row(size: str, column: str, label: str, times: list[float], note: str) -> None:
    """A row (and a log line) for GET /api/videos/{id}/similar/ timed ``times`` ms."""
    p50, p95 = percentiles(times)
    what = f"API GET /api/videos/{{id}}/similar/ ({column}){label}"
    ROWS.append(Row(size, what, "cosine", p50=p50, p95=p95, notes=[note]))
    log(f"API {column}{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def timed_requests(send, requests: list, warm: int = 10) -> tuple[list[float], list[float], list]:
    """Wall and CPU ms of ``send(request)`` for each request (after ``warm`` unmeasured ones),
    and the responses; any answer but 2xx stops the benchmark."""
    for request in requests[:warm]:
        response = send(request)
        if not 200 <= response.status_code < 300:
            raise SystemExit(f"{request}: HTTP {response.status_code} {response.content[:300]}")
    times, cpu, responses = [], [], []
    for request in requests:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = send(request)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert 200 <= response.status_code < 300, (request, response.status_code)
        responses.append(response)
    return times, cpu, responses


def measure_discovery(
    size: str, query_ids: list[int], genre_tag: dict[int, str], rng: np.random.Generator
) -> None:
    """Issue 14's rows, through the API, after measure_api (whose plain rows are the
    reference: same catalog, same segments, same run)."""
    from django.test import Client

    client = Client()
    videos = Video.objects.in_bulk(query_ids)
    for column in DISCOVERY_COLUMNS:
        base = {
            pk: f"/api/videos/{pk}/similar/?representation={column}&metric=cosine&k={K}"
            for pk in query_ids
        }
        variants = {
            " again, interleaved with the two below (versions collapsed, the default)": base,
            " + versions=all (nothing collapsed)": {pk: f"{base[pk]}&versions=all" for pk in base},
            " + versions collapsed + artist cap 2 + genre + 120-420 s + a genre tag": {
                pk: f"{base[pk]}&versions=collapse&genre={videos[pk].genre_id}&"
                f"{filtered_query(genre_tag, videos[pk])}"
                for pk in base
            },
            # No genre filter: the boost can reorder, so the pool may have to grow.
            " + versions collapsed + artist cap 2 + 120-420 s + a genre tag (no genre filter)": {
                pk: f"{base[pk]}&versions=collapse&{filtered_query(genre_tag, videos[pk])}"
                for pk in base
            },
        }
        # Each video's four requests one after the other, so load from other work on this
        # shared machine hits the plain and the filtered search alike.
        for pk in query_ids[:10]:
            for urls in variants.values():
                assert client.get(urls[pk]).status_code == 200, urls[pk]
        times: dict[str, list[float]] = {label: [] for label in variants}
        cpu: dict[str, list[float]] = {label: [] for label in variants}
        counts: dict[str, list[int]] = {label: [] for label in variants}
        for pk in query_ids:
            for label, urls in variants.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(urls[pk])
                times[label].append((time.perf_counter() - started) * 1000)
                cpu[label].append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200, urls[pk]
                counts[label].append(len(response.json()["matches"]))
        for label in variants:
            add_similar_row(
                size,
                column,
                label,
                times[label],
                f"{len(query_ids)} videos; "
                f"{sum(c == K for c in counts[label])}/{len(query_ids)} answers with all "
                f"{K} matches; client CPU p50 {statistics.median(cpu[label]):.1f} ms",
            )
    measure_seed_searches(size, client, rng)
    measure_playlist_paths(size, client, rng)


def _seed_bodies(column: str, rng: np.random.Generator, n: int, exclude: int = 0) -> list[dict]:
    """n trays of SEEDS_PER_SEARCH catalog videos: 3 of one genre and 2 of another (a tray
    mixes styles), plus ``exclude`` videos of a third genre."""
    by_genre: dict[int, np.ndarray] = {}
    for genre_id, ids in sql(
        "SELECT genre_id, (array_agg(id ORDER BY id))[1:2000] FROM catalog_video GROUP BY 1"
    ):
        by_genre[genre_id] = np.asarray(ids)
    genres = sorted(by_genre)
    bodies = []
    for _ in range(n):
        first, second, third = rng.choice(genres, 3, replace=False)
        seeds = [*rng.choice(by_genre[first], 3, replace=False)]
        seeds += [*rng.choice(by_genre[second], SEEDS_PER_SEARCH - 3, replace=False)]
        body = {"seeds": [int(s) for s in seeds], "representation": column, "k": K}
        if exclude:
            body["exclude"] = [int(v) for v in rng.choice(by_genre[third], exclude, False)]
        bodies.append(body)
    return bodies


def measure_seed_searches(size: str, client, rng: np.random.Generator) -> None:
    """POST /api/searches/ with 5 seeds (k = 10), each method; and search.seeds.more_like_these
    alone on the same trays (what the view and its serialisation add)."""

    def post(body):
        return client.post("/api/searches/", body, content_type="application/json")

    cases = [(column, method, 0) for column in DISCOVERY_COLUMNS for method in seed_search.METHODS]
    cases.append(("code", seed_search.FUSION, 1))
    for column, method, exclude in cases:
        bodies = [
            {**body, "method": method, "metric": "cosine"}
            for body in _seed_bodies(column, rng, 50, exclude)
        ]
        times, cpu, responses = timed_requests(post, bodies)
        counts = [len(r.json()["matches"]) for r in responses]
        alone = []
        for body in bodies:
            started = time.perf_counter()
            seed_search.more_like_these(
                body["seeds"],
                body.get("exclude", ()),
                representation=column,
                metric="cosine",
                k=K,
                method=method,
            )
            alone.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(times)
        what = f"{SEEDS_PER_SEARCH} seeds" + (f" + {exclude} excluded" if exclude else "")
        ROWS.append(
            Row(
                size,
                f"API POST /api/searches/ {what} ({column}), {method}",
                "cosine",
                p50=p50,
                p95=p95,
                notes=[
                    f"{len(bodies)} trays (3 + 2 videos of two genres); "
                    f"{sum(c == K for c in counts)}/{len(counts)} answers with all {K} matches; "
                    f"search.seeds.more_like_these alone p50 {statistics.median(alone):.1f} ms; "
                    f"client CPU p50 {statistics.median(cpu):.1f} ms"
                ],
            )
        )
        log(f"API seeds {what} {column} {method}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def measure_playlist_paths(size: str, client, rng: np.random.Generator) -> None:
    """A playlist of 50 catalog videos ordered as a smooth path: PATCH with ``order`` (load
    the 50 vectors, greedy walk, rewrite the entries, answer the playlist), POST creating an
    ordered one, and playlists.services.order_smooth alone."""
    ids = np.asarray([row[0] for row in sql("SELECT id FROM catalog_video ORDER BY id")])
    lists = [[int(v) for v in rng.choice(ids, PLAYLIST_LENGTH, replace=False)] for _ in range(10)]
    made = []
    for i, video_ids in enumerate(lists):
        response = client.post(
            "/api/playlists/",
            {"name": f"bench {i}", "video_ids": video_ids},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content[:300]
        made.append((response.json()["id"], response.json()["secret"], video_ids))
    for column in ("both", "code"):
        requests = [
            (pk, secret, int(rng.choice(video_ids)))
            for _ in range(5)
            for pk, secret, video_ids in made
        ]

        def patch(request, column=column):
            pk, secret, start = request
            return client.patch(
                f"/api/playlists/{pk}/",
                {"order": {"representation": column, "metric": "cosine", "start": start}},
                content_type="application/json",
                HTTP_X_PLAYLIST_SECRET=secret,
            )

        times, cpu, responses = timed_requests(patch, requests)
        lengths = {len(r.json()["entries"]) for r in responses}
        playlists = Playlist.objects.in_bulk([pk for pk, _, _ in made])
        alone = []
        for pk, _, start in requests:
            started = time.perf_counter()
            playlist_services.order_smooth(
                playlists[pk], representation=column, metric="cosine", start=start
            )
            alone.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(times)
        ROWS.append(
            Row(
                size,
                f"API PATCH /api/playlists/{{id}}/ smooth path of {PLAYLIST_LENGTH} ({column})",
                "cosine",
                p50=p50,
                p95=p95,
                notes=[
                    f"{len(requests)} reorders of {len(made)} playlists from a random start; "
                    f"entries per answer {sorted(lengths)}; playlists.services.order_smooth "
                    f"alone p50 {statistics.median(alone):.1f} ms; client CPU p50 "
                    f"{statistics.median(cpu):.1f} ms"
                ],
            )
        )
        log(f"API playlist path {column}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    bodies = [
        {
            "name": f"bench ordered {i}",
            "video_ids": video_ids,
            "order": {"representation": "both", "metric": "cosine"},
        }
        for i, video_ids in enumerate(lists * 3)
    ]
    times, cpu, _ = timed_requests(
        lambda body: client.post("/api/playlists/", body, content_type="application/json"),
        bodies,
        warm=0,
    )
    p50, p95 = percentiles(times)
    ROWS.append(
        Row(
            size,
            f"API POST /api/playlists/ {PLAYLIST_LENGTH} videos ordered as a smooth path (both)",
            "cosine",
            p50=p50,
            p95=p95,
            notes=[
                f"{len(bodies)} playlists created; client CPU p50 {statistics.median(cpu):.1f} ms"
            ],
        )
    )
    log(f"API playlist create + path: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def filtered_uses_index(column: str, video: Video, genre_tag: dict[int, str]) -> bool:
    """Whether the capped, filtered search statement's plan scans the HNSW index."""
    sent: list[tuple[str, dict]] = []

    def record(execute, statement, params, many, context):
        sent.append((statement, params))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        find_similar(
            video,
            representation=column,
            metric="cosine",
            k=K,
            max_per_artist=2,
            min_duration=120,
            max_duration=420,
            tags=(genre_tag[video.genre_id],),
        )
    statement, params = next((s, p) for s, p in sent if "<=>" in s)
    plan = "\n".join(row[0] for row in sql("EXPLAIN " + statement, params))
    return HNSW[(column, OPCLASS["cosine"])] in plan


def measure_tag_search(
    size: str, client, genre_tag: dict[int, str], rng: np.random.Generator
) -> None:
    """GET /api/tags/search/ with two tags (a genre's strong tag and a random one), k = 10:
    search.tags.tag_search through its per-tag and covering indexes (search migration 0005;
    bench/tags.py compares it with the former sequential scan)."""
    names = vocabulary()
    strong = list(genre_tag.values())
    urls = []
    for i in range(50):
        pair = [strong[i % len(strong)], names[int(rng.integers(len(names)))]]
        urls.append("/api/tags/search/?k=10&tags=" + ",".join(p.replace(" ", "%20") for p in pair))
    for url in urls[:5]:
        assert client.get(url).status_code == 200, url
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    p50, p95 = percentiles(times)
    first = response.json()["matches"][0]["score"]
    ROWS.append(
        Row(
            size,
            "API GET /api/tags/search/ (2 tags, k=10)",
            "inner product",
            p50=p50,
            p95=p95,
            notes=[
                f"{len(urls)} tag pairs; search.tags.tag_search (per-tag and covering "
                f"indexes, exact); "
                f"top score of the last {first:.2f}"
            ],
        )
    )
    log(f"API tag search: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def run_baseline(n_videos: int, reps: int) -> float:
    """The original project's schema: one row per (video, segment, feature) value."""
    sql("DROP TABLE IF EXISTS baseline_values, baseline_weights")
    sql(
        "CREATE UNLOGGED TABLE baseline_values (video_id int, segment_index smallint, "
        "feature_id smallint, value real)"
    )
    sql("CREATE TABLE baseline_weights (feature_id smallint PRIMARY KEY, weight real)")
    started = time.perf_counter()
    with raw_connection() as conn:
        with conn.cursor().copy("COPY baseline_weights FROM STDIN") as copy:
            copy.write("".join(f"{f}\t1.0\n" for f in range(BOTH_DIM)))
        rng = np.random.default_rng(1)
        for first in range(0, n_videos, 100):
            videos = range(first + 1, min(n_videos, first + 100) + 1)
            block = io.StringIO()
            values = rng.normal(size=(len(videos), SEGMENTS_PER_VIDEO, BOTH_DIM))
            for vi, video in enumerate(videos):
                for s in range(SEGMENTS_PER_VIDEO):
                    block.write(
                        "".join(
                            f"{video}\t{s}\t{f}\t{v:.5f}\n"
                            for f, v in enumerate(values[vi, s].tolist())
                        )
                    )
            with conn.cursor().copy("COPY baseline_values FROM STDIN") as copy:
                copy.write(block.getvalue())
    sql("CREATE INDEX ON baseline_values (video_id)")
    sql("ANALYZE baseline_values")
    rows = sql("SELECT count(*) FROM baseline_values")[0][0]
    log(f"baseline: {rows:,} value rows loaded in {time.perf_counter() - started:.0f} s")
    query = """
        SELECT c.video_id, sqrt(sum(w.weight * (c.value - q.value) ^ 2)) AS distance
        FROM baseline_values q
        JOIN baseline_values c
          ON c.segment_index = q.segment_index AND c.feature_id = q.feature_id
        JOIN baseline_weights w ON w.feature_id = c.feature_id
        WHERE q.video_id = %s AND c.video_id <> %s
        GROUP BY c.video_id
        ORDER BY distance
        LIMIT 10
    """
    times = []
    for rep in range(reps + 1):
        video = 1 + rep * 7 % n_videos
        started = time.perf_counter()
        result = sql(query, [video, video])
        if rep:  # the first run warms the cache
            times.append((time.perf_counter() - started) * 1000)
        assert len(result) == K
    p50, p95 = percentiles(times)
    ROWS.append(
        Row(
            fmt_size(n_videos),
            "baseline: row per segment x feature value, SQL join",
            "weighted L2",
            p50=p50,
            p95=p95,
            notes=[f"{rows:,} rows, {SEGMENTS_PER_VIDEO} segments/video; {reps} queries"],
        )
    )
    sql("DROP TABLE baseline_values, baseline_weights")
    return p50


# --------------------------------------------------------------------------- main


def bench_size(n: int, args, gen: Generator, both_1m_ok: bool | None) -> float | None:
    size = fmt_size(n)
    with_both = n < 1_000_000 or bool(both_1m_ok)
    stored = load_catalog(n, gen, with_both)
    rng = np.random.default_rng(10_000 + n)
    latent, _ = gen.latent(args.queries, rng)
    queries = {c: gen.project(latent, c, rng) for c in ("code", "music", "both")}
    both_build = None
    columns = ("code", "music", "both") if with_both else ("code",)
    if args.discovery:
        columns = tuple(c for c in columns if c in DISCOVERY_COLUMNS)
    for column in columns:
        for metric in args.metrics:
            seconds = build_index(column, metric)
            if column == "both":
                both_build = seconds
            sql("ANALYZE search_videovector")
            # A serving database has its index in memory; right after a build it is only
            # partly in shared_buffers, so load it (and the join's table) like a warm server.
            sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            for relation in (
                HNSW[(column, OPCLASS[metric])],
                "catalog_video",
                "catalog_video_pkey",
            ):
                sql(f"SELECT pg_prewarm('{relation}')")
            # The build wrote the index through the WAL; flush it now rather than have the
            # checkpointer write it out during the measurements.
            sql("CHECKPOINT")
            log(f"{size}: HNSW {column}/{metric} built in {seconds:.0f} s")
            indexed = uses_index(column, metric, queries[column][0])
            p50, p95, recall = measure_orm(column, metric, queries[column], stored[column])
            log(f"{size} {column}/{metric}: p50 {p50:.2f} ms p95 {p95:.2f} ms recall {recall}")
            ROWS.append(
                Row(
                    size,
                    f"find_similar, {column} ({stored[column].shape[1]}-d)",
                    metric,
                    build=f"{seconds:.0f} s",
                    p50=p50,
                    p95=p95,
                    recall=recall,
                    notes=[
                        f"k-NN statement alone (nearest_rows) p50 {LAST_KNN[0]:.1f} ms; "
                        f"client CPU p50 {LAST_CPU[0]:.1f} ms"
                    ]
                    + ([] if indexed else ["planner did NOT use the HNSW index"]),
                )
            )
            # Drawn in --discovery too, so the API rows' query videos are the full run's.
            ids = [int(i) for i in rng.choice(n, size=min(args.queries, n), replace=False) + 1]
            if args.discovery:
                continue
            if column == "code":
                ROWS.append(measure_preparing(size, column, metric, queries[column]))
            row = measure_video_queries(column, metric, ids)
            row.catalog = size
            ROWS.append(row)
            log(f"{size} {column}/{metric} Video queries: p50 {row.p50:.2f} ms recall {row.recall}")
    if not with_both:
        ROWS.append(Row(size, f"find_similar, both ({BOTH_DIM}-d)", "-", notes=[args.both_1m_note]))
    if n == args.api_size:
        ids = [int(i) for i in rng.choice(n, size=args.api_queries, replace=False) + 1]
        genre_tag = measure_api(size, ids, rng)
        if genre_tag is not None:
            measure_discovery(size, ids, genre_tag, rng)
    return both_build


def print_table(args, started: float) -> str:
    def num(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        "| catalog | what | metric | index build | p50 ms | p95 ms | recall@10 | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in ROWS:
        lines.append(
            f"| {r.catalog} | {r.what} | {r.metric} | {r.build or '-'} | {num(r.p50)} | "
            f"{num(r.p95)} | {num(r.recall, 3)} | {'; '.join(r.notes)} |"
        )
    ef = SearchSettings.load().ef_search
    lines.append("")
    lines.append(
        f"k={K}, {args.queries} queries per row; 'find_similar, code/both' rows: vector queries "
        f"(no genre, so no boost and no pool: LIMIT k); 'Video query' rows: genre boost on, "
        f"candidate pool k x 10 re-ranked; ef_search {ef} (raised to the LIMIT); one pass "
        f"over the graph (iterative scan off) for vector queries, relaxed_order for pools; "
        f"HNSW m=16, ef_construction=64; shared_buffers {settings.POSTGRES_SHARED_BUFFERS}; "
        f"{os.cpu_count()} CPU cores shared with other work (load average {os.getloadavg()[0]:.1f} "
        f"at the end); genre-cluster spread {args.spread}; total run "
        f"{(time.perf_counter() - started) / 60:.0f} min."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="catalog sizes, comma-separated")
    parser.add_argument("--quick", action="store_true", help="small sizes, few queries (smoke)")
    parser.add_argument("--keep", action="store_true", help="keep the mvsim_bench database")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--metrics", default="cosine", help="cosine and/or euclidean")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--discovery",
        action="store_true",
        help="only the API catalog size (100k unless --sizes says otherwise): the plain "
        "search rows (find_similar and the API, code and both) and issue 14's rows; no 1k "
        "baseline, no music index, no prepared/boosted/exact rows",
    )
    parser.add_argument(
        "--spread", type=float, default=0.5, help="genre-cluster spread (see Generator)"
    )
    args = parser.parse_args(argv)
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    baseline_videos, baseline_reps = 1000, 5
    if args.quick:
        sizes, args.queries, baseline_videos, baseline_reps = [5000, 20000], 30, 100, 3
    if args.discovery:
        sizes = [max((s for s in sizes if s <= 100_000), default=100_000)]
        args.no_baseline = True
    args.api_size = max((s for s in sizes if s <= 100_000), default=None)
    args.api_queries = 50 if not args.quick else 10
    args.both_1m_note = ""
    started = time.perf_counter()
    prepare_database()
    gen = Generator(args.spread)
    try:
        ours_1k = None
        if not args.no_baseline:
            load_catalog(baseline_videos, gen, with_both=True)
            build_index("both", "cosine")
            rng = np.random.default_rng(5)
            q = gen.project(gen.latent(args.queries, rng)[0], "both", rng)
            ours_1k, ours_1k_p95, _ = measure_orm("both", "cosine", q, None)
            ROWS.append(
                Row(
                    fmt_size(baseline_videos),
                    f"find_similar, both ({BOTH_DIM}-d)",
                    "cosine",
                    p50=ours_1k,
                    p95=ours_1k_p95,
                )
            )
            base = run_baseline(baseline_videos, baseline_reps)
            ROWS[-1].notes.append(f"ours is {base / ours_1k:,.0f}x faster")
            log(f"baseline p50 {base:.0f} ms vs ours {ours_1k:.2f} ms: {base / ours_1k:,.0f}x")
        both_1m_ok = None
        for n in sorted(sizes):
            if n >= 1_000_000 and both_1m_ok is None:
                both_1m_ok = False
                args.both_1m_note = "not built: no smaller size measured to estimate the build"
            both_build = bench_size(n, args, gen, both_1m_ok)
            if both_build is not None and n < 1_000_000:
                # HNSW build ~ n log n: scale the measured build up to 1M.
                estimate = both_build * (1_000_000 / n) * np.log(1_000_000) / np.log(n)
                both_1m_ok = estimate <= BOTH_1M_BUDGET_S
                args.both_1m_note = (
                    f"not built at 1M: the {fmt_size(n)} build took {both_build:.0f} s, so 1M "
                    f"would take ~{estimate / 60:.0f} min on this machine; measured at "
                    f"{fmt_size(n)} instead"
                )
    finally:
        table = print_table(args, started)
        print("\n" + table)
        out = ROOT / "bench" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "search.md").write_text(table + "\n")
        if args.keep:
            restore_indexes()
            log(f"kept database {BENCH_DB}")
        else:
            drop_database()
            log(f"dropped database {BENCH_DB}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
