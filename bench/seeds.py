"""Benchmark: several seeds (centroid vs rank fusion) and playlist paths on a synthetic catalog.

Run: ``.venv/bin/python bench/seeds.py [--size 100000] [--trials 30] [--keep]``

In its own database ``mvsim_bench_seeds`` (dropped at the end unless ``--keep``): ``--size``
videos by binary COPY — a clustered background (bench/synthetic.py, spread 0.5) plus planted
clusters of 20 tight members each — with their 40-d ``code`` vectors and the cosine HNSW
index. Then, through ``search.seeds.more_like_these`` (the application's path):

- recall: seeds drawn from planted clusters (5 from one cluster; 3 + 2 from two; 1 from each
  of five; 3 + 2 with one more member of the second cluster excluded), k = the number of the
  seeded clusters' other members, recall = the share of them in the top k (for the negative
  case: of the first cluster's, and how many of the excluded cluster still came back);
- latency: 5 seeds, k = 10, p50 / p95 per method;
- a playlist path of 50: ``playlists.services.order_smooth`` over 50 catalog videos (load the
  vectors, greedy walk, store the order), p50 / p95.

Prints a Markdown table (also bench/out/seeds.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = "mvsim_bench_seeds"

from bench.environment import setup_django  # noqa: E402

setup_django(BENCH_DB, "13", Path(tempfile.mkdtemp(prefix="mvsim-bench-seeds-")))

import numpy as np  # noqa: E402

from bench import scratch_db  # noqa: E402
from bench.scratch_db import log, raw_connection, sql  # noqa: E402
from bench.synthetic import (  # noqa: E402
    CLUSTERS,
    LATENT,
    PGCOPY_HEADER,
    PGCOPY_TRAILER,
    Generator,
    binary_copy_payload,
    pg_now,
    video_rows_text,
)
from catalog.models import Genre  # noqa: E402
from playlists import services as playlist_services  # noqa: E402
from search import seeds  # noqa: E402
from search.ranking import K_MAX  # noqa: E402

MEMBERS = 20  # per planted cluster
PLANTED_SPREAD = 0.35  # latent noise of a planted cluster's members (the background's is 1)
COLUMN, METRIC = "code", "cosine"


def load(n: int, planted: int, gen: Generator) -> dict[int, list[int]]:
    """COPY n videos (the last planted x MEMBERS of them in planted clusters); returns each
    planted cluster's video ids."""
    for i in range(CLUSTERS - Genre.objects.count()):
        Genre.objects.create(name=f"Bench genre {i}")
    genre_ids = list(Genre.objects.order_by("id").values_list("id", flat=True)[:CLUSTERS])
    rng = np.random.default_rng(n)
    background = n - planted * MEMBERS
    latent, genres = gen.latent(background, rng)
    centres, centre_genres = gen.latent(planted, rng)
    members = np.repeat(centres, MEMBERS, axis=0)
    members += rng.normal(size=members.shape) * PLANTED_SPREAD
    latent = np.vstack([latent, members])
    genres = np.concatenate([genres, np.repeat(centre_genres, MEMBERS)])
    ids = np.arange(1, n + 1, dtype=np.int64)
    vectors = gen.project(latent, COLUMN, rng)
    assert latent.shape == (n, LATENT)
    cols = sql(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'catalog_video' ORDER BY ordinal_position"
    )
    started = time.perf_counter()
    with raw_connection() as conn:
        # Inserting into HNSW indexes row by row is slow: drop them all (the migrations made
        # one per column and metric), load, then build the one the bench searches.
        for (name,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'search_videovector' "
            "AND indexdef LIKE '%%USING hnsw%%'"
        ).fetchall():
            conn.execute(f'DROP INDEX "{name}"')
        text = video_rows_text(ids, genres, genre_ids, cols)
        header, body = text.split("\n", 1)
        with conn.cursor().copy(f"COPY catalog_video ({header}) FROM STDIN") as copy:
            copy.write(body)
        columns = [("video_id", ids), (COLUMN, vectors), ("updated_at", pg_now(n))]
        names = ", ".join(f'"{name}"' for name, _ in columns)
        with conn.cursor().copy(
            f"COPY search_videovector ({names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(PGCOPY_HEADER + binary_copy_payload(columns) + PGCOPY_TRAILER)
        conn.execute("SELECT setval(pg_get_serial_sequence('catalog_video', 'id'), %s)", [n])
        conn.execute("VACUUM (FREEZE, ANALYZE) catalog_video")
        conn.execute("VACUUM (FREEZE, ANALYZE) search_videovector")
    seconds = time.perf_counter() - started
    log(f"loaded {n:,} videos ({planted} planted clusters) in {seconds:.1f} s")
    started = time.perf_counter()
    with raw_connection() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX vv_code_cos_hnsw ON search_videovector USING hnsw (code "
            "vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        conn.execute("ANALYZE search_videovector")
    log(f"HNSW {COLUMN}/{METRIC} built in {time.perf_counter() - started:.1f} s")
    first = background + 1
    return {c: list(range(first + c * MEMBERS, first + (c + 1) * MEMBERS)) for c in range(planted)}


def run(seed_ids, exclude, k, method) -> list[int]:
    found = seeds.more_like_these(
        seed_ids, exclude, representation=COLUMN, metric=METRIC, k=k, method=method
    )
    return [m.video.pk for m in found.matches]


SCENARIOS = {
    "5 seeds, 1 cluster": (5,),
    "3 + 2 seeds, 2 clusters": (3, 2),
    "1 seed each, 5 clusters": (1, 1, 1, 1, 1),
}


def recall_rows(clusters: dict[int, list[int]], trials: int, rng) -> list[str]:
    lines = []
    for name, shape in SCENARIOS.items():
        scores = {method: [] for method in seeds.METHODS}
        for _ in range(trials):
            picked = rng.choice(len(clusters), size=len(shape), replace=False)
            seed_ids, others = [], []
            for c, count in zip(picked, shape, strict=True):
                members = list(clusters[int(c)])
                rng.shuffle(members)
                seed_ids += members[:count]
                others += members[count:]
            k = min(len(others), K_MAX)
            for method in seeds.METHODS:
                got = set(run(seed_ids, [], k, method))
                scores[method].append(len(got & set(others)) / len(others))
        cells = " | ".join(f"{statistics.mean(scores[m]):.3f}" for m in seeds.METHODS)
        lines.append(f"| {name} | {cells} |")
        log(f"recall {name}: {cells}")
    # A negative: 3 seeds of X + 2 of Y, one more member of Y excluded.
    kept = {m: [] for m in seeds.METHODS}
    leaked = {m: [] for m in seeds.METHODS}
    for _ in range(trials):
        x, y = (clusters[int(c)] for c in rng.choice(len(clusters), size=2, replace=False))
        seed_ids, exclude = x[:3] + y[:2], [y[2]]
        k = MEMBERS - 3
        for method in seeds.METHODS:
            got = set(run(seed_ids, exclude, k, method))
            kept[method].append(len(got & set(x[3:])) / k)
            leaked[method].append(len(got & set(y)) / k)
    cells = " | ".join(
        f"{statistics.mean(kept[m]):.3f} (Y: {statistics.mean(leaked[m]):.3f})"
        for m in seeds.METHODS
    )
    lines.append(f"| 3 + 2 seeds, one more of Y excluded: X's members (Y's share) | {cells} |")
    log(f"negative: {cells}")
    return lines


def latency_rows(clusters, n: int, trials: int, rng) -> list[str]:
    lines = []
    for method in seeds.METHODS:
        samples = []
        for i in range(trials + 5):
            seed_ids = [int(v) for v in rng.choice(n, size=5, replace=False) + 1]
            started = time.perf_counter()
            run(seed_ids, [], 10, method)
            if i >= 5:  # warm-up: psycopg prepares a statement after 5 runs
                samples.append((time.perf_counter() - started) * 1000)
        p50, p95 = np.percentile(samples, [50, 95])
        lines.append(f"| 5 seeds, k = 10, {method} | {p50:.1f} | {p95:.1f} |")
        log(f"latency {method}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    samples = []
    for i in range(trials + 2):
        ids = [int(v) for v in rng.choice(n, size=50, replace=False) + 1]
        playlist, _ = playlist_services.create_playlist("bench", ids)
        started = time.perf_counter()
        playlist_services.order_smooth(playlist, representation=COLUMN, metric=METRIC)
        if i >= 2:
            samples.append((time.perf_counter() - started) * 1000)
        playlist.delete()
    p50, p95 = np.percentile(samples, [50, 95])
    lines.append(f"| playlist path of 50 (order_smooth) | {p50:.1f} | {p95:.1f} |")
    log(f"playlist path of 50: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=200)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    scratch_db.fresh_database(BENCH_DB)
    try:
        clusters = load(args.size, args.planted, Generator(spread=0.5, seed=7))
        rng = np.random.default_rng(1)
        recall = recall_rows(clusters, args.trials, rng)
        timing = latency_rows(clusters, args.size, args.trials, rng)
    finally:
        if not args.keep:
            scratch_db.drop_database(BENCH_DB)
    methods = " | ".join(seeds.METHODS)
    table = "\n".join(
        [
            f"{datetime.now(UTC):%Y-%m-%d}, {args.size:,} videos ({args.planted} planted "
            f"clusters of {MEMBERS}), {COLUMN} {METRIC}, {args.trials} trials, "
            f"{time.perf_counter() - started:.0f} s in all",
            "",
            f"| recall of the seeds' clusters in the top k | {methods} |",
            "| --- | --- | --- |",
            *recall,
            "",
            "| latency | p50 ms | p95 ms |",
            "| --- | --- | --- |",
            *timing,
        ]
    )
    scratch_db.write_report("seeds", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
