"""Benchmark: the tag search (search.tags.tag_search) at 100k, before / after the indexes of
search migration 0005 in one run, and the index design that was not kept.

Run: ``.venv/bin/python bench/tags.py [--size 100000] [--queries 30] [--keep]``

In its own database ``mvsim_bench_tags`` (``MVSIM_BENCH_DB`` names another; dropped at the end
unless ``--keep``), created and migrated like the site's (so with the indexes of search
migration 0005): ``--size`` ready catalog videos by binary COPY with a
``features_videofeatures`` row each, as wide as a real one (68 audio, 354 visual and 200 music
floats: a scan reads real-sized pages). Two tag distributions, one after the other:

- ``plateau`` (bench/search.py's): each of 10 genres carries 5 of the 50 tags uniformly at
  0.2-0.7, the rest at 0-0.08 — thousands of near-equal top values per tag, the hard case
  for anything that stops early;
- ``smooth``: MusiCNN-like sigmoid means, logit = genre's mean logit per tag (N(-3, 1.5)) +
  N(0, 0.7) per video: long thin tails.

Queries, k = 10, per mix: one strong tag; two strong tags of one genre; a genre's strong tag
and a random tag (bench/search.py's pair); three random tags. Each query through, interleaved:

- **before**: the previous statement (commit cad8a6c, kept here verbatim): the top k x 10 tag
  vectors by inner product, then the catalog join — with index-only scans off, i.e. the
  sequential scan of the features table it had (the plan is checked); it is exact here (every
  video is a ready catalog video) and the reference for recall;
- **covering index alone**: the same statement reading migration 0005's covering index;
- **after**: ``tag_search`` (the per-tag indexes, then the covering index; exact: asserted),
  and which of its statements answered.

Not kept, for the record: an HNSW ``vector_ip_ops`` index on the tag vector (ef_search 100 and
400, iterative scans; the k x 10 nearest re-ranked), recall against the exact ranking.

Prints a Markdown table (also bench/out/tags.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("MVSIM_BENCH_DB", "mvsim_bench_tags")

from bench.environment import setup_django  # noqa: E402

setup_django(BENCH_DB, "11", Path(tempfile.mkdtemp(prefix="mvsim-bench-tags-")))

import numpy as np  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import scratch_db  # noqa: E402
from bench.scratch_db import log, raw_connection, sql  # noqa: E402
from bench.synthetic import (  # noqa: E402
    CLUSTERS,
    PGCOPY_HEADER,
    PGCOPY_TRAILER,
    binary_copy_payload,
    video_rows_text,
)
from catalog.models import Genre, Video, VideoStatus  # noqa: E402
from features.models import (  # noqa: E402
    AUDIO_DIM,
    MUSIC_DIM,
    MUSIC_TAG_COUNT,
    VISUAL_DIM,
    VideoFeatures,
)
from search.sql import genre_joins, result_columns, video_from_row  # noqa: E402
from search.tags import (  # noqa: E402
    COVERING_INDEX,
    model_name,
    positions,
    tag_search,
    vocabulary,
    weights,
)

GENRE_TAGS = 5  # tags each genre carries strongly (as in bench/search.py)
T = TypeVar("T")
CHUNK = 20_000


def catalog_columns() -> list[tuple[str, str, str]]:
    return sql(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'catalog_video' ORDER BY ordinal_position"
    )


def tag_values(
    genres: np.ndarray, distribution: str, strong: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """(len(genres), 50) tag probabilities, float32 (see the module docstring)."""
    if distribution == "plateau":
        tags = rng.uniform(0, 0.08, (len(genres), MUSIC_TAG_COUNT))
        for g in range(CLUSTERS):
            rows = np.flatnonzero(genres == g)
            tags[np.ix_(rows, strong[g])] = rng.uniform(0.2, 0.7, (len(rows), GENRE_TAGS))
    else:
        logits = SMOOTH_LOGITS[genres] + rng.normal(0, 0.7, (len(genres), MUSIC_TAG_COUNT))
        tags = 1 / (1 + np.exp(-logits))
    return tags.astype(np.float32)


SMOOTH_LOGITS = np.random.default_rng(99).normal(-3, 1.5, (CLUSTERS, MUSIC_TAG_COUNT))


def strong_tags(distribution: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Each genre's GENRE_TAGS most probable tags."""
    if distribution == "plateau":
        return [rng.choice(MUSIC_TAG_COUNT, GENRE_TAGS, replace=False) for _ in range(CLUSTERS)]
    return [np.argsort(-row)[:GENRE_TAGS] for row in SMOOTH_LOGITS]


def load(
    n: int, distribution: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """n ready catalog videos (ids 1..n) with features rows (after emptying both tables);
    returns their tag vectors (row i = video i + 1) and each genre's strong tags."""
    sql("TRUNCATE catalog_video RESTART IDENTITY CASCADE")
    for i in range(CLUSTERS - Genre.objects.count()):
        Genre.objects.create(name=f"Bench genre {i}")
    genre_ids = list(Genre.objects.order_by("id").values_list("id", flat=True)[:CLUSTERS])
    strong = strong_tags(distribution, rng)
    all_tags = []
    started = time.perf_counter()
    with raw_connection() as conn:
        for first in range(0, n, CHUNK):
            ids = np.arange(first + 1, min(n, first + CHUNK) + 1, dtype=np.int64)
            genres = rng.integers(0, CLUSTERS, len(ids))
            text = video_rows_text(ids, genres, genre_ids, catalog_columns())
            header, body = text.split("\n", 1)
            with conn.cursor().copy(f"COPY catalog_video ({header}) FROM STDIN") as copy:
                copy.write(body)
            tags = tag_values(genres, distribution, strong, rng)
            all_tags.append(tags)
            payload = binary_copy_payload(
                [
                    ("video_id", ids),
                    ("audio", rng.normal(size=(len(ids), AUDIO_DIM)).astype(np.float32)),
                    ("visual", rng.normal(size=(len(ids), VISUAL_DIM)).astype(np.float32)),
                    ("music", rng.random((len(ids), MUSIC_DIM)).astype(np.float32)),
                    ("tags", tags),
                ]
            )
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS vf_in (video_id bigint, "
                f"audio vector({AUDIO_DIM}), visual vector({VISUAL_DIM}), "
                f"music vector({MUSIC_DIM}), tags vector({MUSIC_TAG_COUNT}))"
            )
            conn.execute("TRUNCATE vf_in")
            with conn.cursor().copy("COPY vf_in FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(PGCOPY_HEADER + payload + PGCOPY_TRAILER)
            conn.execute(
                "INSERT INTO features_videofeatures (video_id, segment_count, audio_mean, "
                "visual_mean, music_mean, music_tags, music_model, extracted_at, poster) "
                "SELECT video_id, 18, audio, visual, music, tags, %s, now(), '' FROM vf_in",
                [model_name()],
            )
        conn.execute("SELECT setval(pg_get_serial_sequence('catalog_video', 'id'), %s)", [n])
    log(
        f"loaded {n:,} videos ({distribution}) with features rows and the per-tag indexes in "
        f"{time.perf_counter() - started:.1f} s"
    )
    # A serving table has been vacuumed (hint bits, visibility map) and is in memory.
    sql("VACUUM (FREEZE, ANALYZE) catalog_video")
    sql("VACUUM (FREEZE, ANALYZE) features_videofeatures")
    sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    for relation in ("features_videofeatures", "catalog_video", "catalog_video_pkey"):
        sql(f"SELECT pg_prewarm('{relation}')")
    return np.vstack(all_tags), strong


# --------------------------------------------------------------------------- the searches


def previous_statement(n_tags: int, k: int) -> str:
    """search.tags._statement(n_tags, k, joined=False) as of commit cad8a6c, verbatim."""
    videos, features = Video._meta.db_table, VideoFeatures._meta.db_table
    each = ", ".join(f"(t.tags::real[])[%(tag_{i})s::int]" for i in range(n_tags))
    ready = "v.status = %(status)s AND v.is_query = false"
    candidates = (
        f"SELECT vf.video_id, vf.music_tags AS tags, "
        f"-(vf.music_tags <#> %(weights)s::vector) AS score FROM {features} vf "
        f"WHERE vf.music_model = %(model)s AND vf.music_tags IS NOT NULL "
        f"ORDER BY vf.music_tags <#> %(weights)s::vector, vf.video_id "
        f"LIMIT {int(k) * 10}"
    )
    return (
        f"WITH t AS MATERIALIZED ({candidates}) "
        f"SELECT {result_columns()}, t.score, {each}, (SELECT count(*) FROM t) "
        f"FROM t JOIN {videos} v ON v.id = t.video_id {genre_joins()}"
        f"WHERE {ready} ORDER BY t.score DESC, v.id LIMIT {int(k)}"
    )


def params_for(tags: tuple[str, ...]) -> dict:
    params = {
        "weights": "[" + ",".join(repr(w) for w in weights(tags)) + "]",
        "model": model_name(),
        "status": VideoStatus.READY.value,
    }
    params.update({f"tag_{i}": p + 1 for i, p in enumerate(positions(tags))})
    return params


BEFORE = ("SET LOCAL enable_indexonlyscan = off",)  # no covering index: the old plan


def previous_search(tags: tuple[str, ...], k: int, settings: tuple[str, ...] = BEFORE) -> list[int]:
    """The previous statement: under BEFORE its plan is the sequential scan it had before
    migration 0005 (checked by plan_of); with () it reads the covering index of 0005."""
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(setting)
        cursor.execute(previous_statement(len(tags), k), params_for(tags))
        return [video_from_row(row).pk for row in cursor.fetchall()]


def plan_of(tags: tuple[str, ...], k: int, settings: tuple[str, ...]) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(setting)
        cursor.execute("EXPLAIN " + previous_statement(len(tags), k), params_for(tags))
        return "\n".join(row[0] for row in cursor.fetchall())


def answered_by(queries: CaptureQueriesContext) -> str:
    """Which statement gave the answer; for the floor statement, how its plan read the tag
    vectors (the per-tag indexes, the covering index or the table)."""
    sql_text = [q["sql"] for q in queries.captured_queries]
    if len(sql_text) == 1:
        return "first"
    if " >= " not in sql_text[1]:
        return "scan"
    plan = "\n".join(row[0] for row in sql("EXPLAIN " + sql_text[1]))
    if "BitmapOr" in plan or "Bitmap Index Scan on search_vf_tag_" in plan:
        return "floor (tag indexes)"
    if COVERING_INDEX in plan:
        return "floor (covering index)"
    return "floor (table scan)"


# --------------------------------------------------------------------------- measuring

MIXES = ("1 tag", "2 tags, one genre", "a genre's tag + a random tag", "3 random tags")


def query_sets(
    strong: list[np.ndarray], count: int, rng: np.random.Generator
) -> dict[str, list[tuple[str, ...]]]:
    names = vocabulary()

    def pick(positions) -> tuple[str, ...]:
        return tuple(names[int(p)] for p in positions)

    out: dict[str, list[tuple[str, ...]]] = {mix: [] for mix in MIXES}
    for _ in range(count):
        g, other = rng.choice(CLUSTERS, 2, replace=False)
        out[MIXES[0]].append(pick([rng.choice(strong[g])]))
        out[MIXES[1]].append(pick(rng.choice(strong[g], 2, replace=False)))
        random_tag = rng.choice(np.setdiff1d(np.arange(MUSIC_TAG_COUNT), [strong[g][0]]))
        out[MIXES[2]].append(pick([strong[g][0], random_tag]))
        out[MIXES[3]].append(pick(rng.choice(MUSIC_TAG_COUNT, 3, replace=False)))
    return out


@dataclass
class Result:
    ms: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    notes: str = ""

    def row(self, distribution: str, mix: str, method: str) -> str:
        p50 = statistics.median(self.ms)
        p95 = sorted(self.ms)[min(len(self.ms) - 1, round(0.95 * (len(self.ms) - 1)))]
        recall = f"{statistics.mean(self.recall):.3f}" if self.recall else ""
        return (
            f"| {distribution} | {mix} | {method} | {p50:.2f} | {p95:.2f} | {recall} | "
            f"{self.notes} |"
        )


def ids_of(tags: tuple[str, ...], k: int) -> list[int]:
    return [m.video.pk for m in tag_search(tags, k)]


def timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    """fn(*args) and its wall time in ms."""
    started = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - started) * 1000


def measure(distribution: str, queries: dict[str, list[tuple[str, ...]]], k: int) -> list[str]:
    """before / the covering index alone / after, interleaved query by query (the machine is
    shared: a load change hits all three alike). "before" is the exact ranking (every video
    here is a ready catalog video), the reference for recall."""
    any_tags = next(iter(queries.values()))[0]
    plan = plan_of(any_tags, k, BEFORE)
    assert "Seq Scan on features_videofeatures" in plan, plan
    plan = plan_of(any_tags, k, ())
    assert f"Index Only Scan using {COVERING_INDEX}" in plan, plan
    rows = []
    for mix, tag_lists in queries.items():
        results = {name: Result() for name in ("before", "covering index alone", "after")}
        answers: list[str] = []
        for tags in tag_lists:
            exact, ms = timed(previous_search, tags, k)
            results["before"].ms.append(ms)
            covering, ms = timed(previous_search, tags, k, ())
            results["covering index alone"].ms.append(ms)
            results["covering index alone"].recall.append(len(set(covering) & set(exact)) / k)
            after, ms = timed(ids_of, tags, k)
            results["after"].ms.append(ms)
            results["after"].recall.append(len(set(after) & set(exact)) / k)
            assert after == exact, (tags, after, exact)  # the index path is exact
            with CaptureQueriesContext(connection) as captured:  # untimed: which answered
                tag_search(tags, k)
            answers.append(answered_by(captured))
        results["before"].notes = "the exact ranking: the reference for recall"
        counts = {a: answers.count(a) for a in sorted(set(answers))}
        results["after"].notes = "answered by: " + ", ".join(
            f"{name} {n}/{len(answers)}" for name, n in counts.items()
        )
        for name, result in results.items():
            rows.append(result.row(distribution, mix, name))
        log(
            f"{distribution}, {mix}: "
            + ", ".join(
                f"{name} p50 {statistics.median(r.ms):.1f} ms" for name, r in results.items()
            )
        )
    return rows


def measure_hnsw(distribution: str, queries: dict[str, list[tuple[str, ...]]], k: int) -> list[str]:
    """Not kept: an HNSW inner-product index on the tag vector, on one tag and on the
    genre's-tag + random-tag pair; recall against the exact ranking."""
    rows = []
    mixes = {mix: queries[mix] for mix in (MIXES[0], MIXES[2])}
    exact = {tags: previous_search(tags, k) for tag_lists in mixes.values() for tags in tag_lists}
    sql("SET maintenance_work_mem = '1GB'")
    started = time.perf_counter()
    sql(
        "CREATE INDEX bench_tags_ip_hnsw ON features_videofeatures "
        "USING hnsw (music_tags vector_ip_ops) WITH (m = 16, ef_construction = 64)"
    )
    built = time.perf_counter() - started
    size = sql("SELECT pg_size_pretty(pg_relation_size('bench_tags_ip_hnsw'))")[0][0]
    for ef in (100, 400):
        settings_ = (
            f"SET LOCAL hnsw.ef_search = {ef}",
            "SET LOCAL hnsw.iterative_scan = relaxed_order",
        )
        plan = plan_of(mixes[MIXES[2]][0], k, settings_)
        assert "bench_tags_ip_hnsw" in plan, plan
        for mix, tag_lists in mixes.items():
            result = Result(notes=f"built in {built:.0f} s, {size}")
            for tags in tag_lists:
                got, ms = timed(previous_search, tags, k, settings_)
                result.ms.append(ms)
                result.recall.append(len(set(got) & set(exact[tags])) / k)
            rows.append(result.row(distribution, mix, f"HNSW ip, ef_search {ef} (not kept)"))
    sql("DROP INDEX bench_tags_ip_hnsw")
    log(f"{distribution}: HNSW measured")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=30, help="per mix")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--distributions", default="plateau,smooth")
    parser.add_argument("--no-hnsw", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    scratch_db.fresh_database(BENCH_DB)
    rows: list[str] = []
    sizes = []
    try:
        for distribution in args.distributions.split(","):
            rng = np.random.default_rng(1)
            _, strong = load(args.size, distribution, rng)
            sizes.append(
                sql(
                    "SELECT pg_size_pretty(pg_table_size('features_videofeatures')), "
                    "pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index "
                    "WHERE indexrelid::regclass::text LIKE 'search_vf_tag%%'"
                )[0]
            )
            queries = query_sets(strong, args.queries, rng)
            for tags in [t for tag_lists in queries.values() for t in tag_lists][:5]:
                tag_search(tags, args.k)  # warm: statements, plans, pages
                previous_search(tags, args.k)
                previous_search(tags, args.k, ())
            rows += measure(distribution, queries, args.k)
            if not args.no_hnsw:
                rows += measure_hnsw(distribution, queries, args.k)
    finally:
        if not args.keep:
            scratch_db.drop_database(BENCH_DB)
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = "\n".join(
        [
            f"{args.size:,} videos, k = {args.k}, {args.queries} queries per mix; "
            f"{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, load {load_average}; "
            f"features table {sizes[0][0]}, the indexes of search 0005 {sizes[0][1]}",
            "",
            "| tags | queries | method | p50 ms | p95 ms | recall@k vs exact | notes |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    scratch_db.write_report("tags", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
