"""Benchmark: evaluating a 10k catalog, and the catalog map of 100k (issue: Evaluation and map).

Run: ``.venv/bin/python bench/evaluation.py [--videos 10000] [--map-videos 100000]
[--repeats 3] [--baseline-queries 300]``

In its own database (``mvsim_bench_eval``, dropped at the end), synthetic catalogs are loaded
by binary COPY (clustered low-rank vectors for all five representations, see
bench/synthetic.py; tempo/energy/danceability following the clusters loosely; an active model
holding out 20% for the learned code). Rows:

- ``evaluate`` of every representation x metric x boost off/on (5 x 2 x 2) over the whole
  catalog, through ``evaluation.metrics.evaluate`` (what the command and the admin job run),
  repeated; against the previous way in the same run: one ``find_similar`` (HNSW) per query
  and combination, timed on a sample of queries and scaled to the same work;
- the map: ``execute_map`` (PCA of 100k x 422 + sample + edges + 100k stored points) and
  ``GET /map/`` through Django's test client (p50/p95 over repeated requests), against
  computing the layout per request (what storing it saves).

Prints a Markdown table (also bench/out/evaluation.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = "mvsim_bench_eval"

from bench.environment import setup_django  # noqa: E402

setup_django(BENCH_DB, "13", Path(tempfile.mkdtemp(prefix="mvsim-bench-eval-")))

import numpy as np  # noqa: E402
from django.test import Client  # noqa: E402

from bench import scratch_db  # noqa: E402
from bench.scratch_db import log, raw_connection, sql  # noqa: E402
from bench.synthetic import (  # noqa: E402
    CLUSTERS,
    PGCOPY_HEADER,
    PGCOPY_TRAILER,
    Generator,
    binary_copy_payload,
    pg_now,
    video_rows_text,
)
from catalog.models import Genre, TrackMetadata  # noqa: E402
from evaluation.layout import MapParameters, compute_layout  # noqa: E402
from evaluation.metrics import evaluate  # noqa: E402
from evaluation.services import create_map, execute_map  # noqa: E402
from ml.models import ModelVersion  # noqa: E402
from search.models import SearchSettings  # noqa: E402
from search.ranking import find_similar  # noqa: E402

REPRESENTATIONS = ("code", "music", "audio", "visual", "both")
OUT = ROOT / "bench" / "out" / "evaluation.md"
ROWS: list[tuple[str, str, str, str]] = []


def drop_hnsw_indexes() -> None:
    for (name,) in sql(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'search_videovector' "
        "AND indexdef LIKE '%%hnsw%%'"
    ):
        sql(f"DROP INDEX {name}")


def load(n: int, representations: tuple[str, ...], seed: int) -> None:
    """n videos (ids 1..n) with vectors in ``representations`` and metadata, by COPY."""
    sql("TRUNCATE catalog_video RESTART IDENTITY CASCADE")
    drop_hnsw_indexes()
    for i in range(CLUSTERS - Genre.objects.count()):
        Genre.objects.create(name=f"Bench genre {i}")
    genre_ids = list(Genre.objects.order_by("id").values_list("id", flat=True)[:CLUSTERS])
    columns = sql(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'catalog_video' ORDER BY ordinal_position"
    )
    gen, rng = Generator(0.5, seed=seed), np.random.default_rng(seed)
    started = time.perf_counter()
    chunk = 50_000
    with raw_connection() as conn:
        for first in range(0, n, chunk):
            ids = np.arange(first + 1, min(n, first + chunk) + 1, dtype=np.int64)
            latent, genres = gen.latent(len(ids), rng)
            header, body = video_rows_text(ids, genres, genre_ids, columns).split("\n", 1)
            with conn.cursor().copy(f"COPY catalog_video ({header}) FROM STDIN") as copy:
                copy.write(body)
            vectors = [(name, gen.project(latent, name, rng)) for name in representations]
            payload = [("video_id", ids), *vectors, ("updated_at", pg_now(len(ids)))]
            names = ", ".join(f'"{name}"' for name, _ in payload)
            with conn.cursor().copy(
                f"COPY search_videovector ({names}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(PGCOPY_HEADER + binary_copy_payload(payload) + PGCOPY_TRAILER)
            # Metadata loosely following the genre: a neighbour should agree better than chance.
            tempo = 70 + 10 * genres + rng.normal(0, 15, len(ids))
            energy = np.clip(0.1 * genres / 1.2 + rng.normal(0, 0.15, len(ids)) + 0.1, 0, 1)
            dance = np.clip(rng.uniform(0, 1, len(ids)), 0, 1)
            TrackMetadata.objects.bulk_create(
                (
                    TrackMetadata(video_id=int(v), tempo=t, energy=e, danceability=d)
                    for v, t, e, d in zip(ids, tempo, energy, dance, strict=True)
                ),
                batch_size=5000,
            )
        conn.execute("SELECT setval(pg_get_serial_sequence('catalog_video', 'id'), %s)", [n])
    sql("VACUUM (ANALYZE) catalog_video")
    sql("VACUUM (ANALYZE) search_videovector")
    held_out = np.sort(rng.choice(np.arange(1, n + 1), n // 5, replace=False))
    ModelVersion.objects.all().delete()
    ModelVersion.objects.create(
        name="bench", is_active=True, metrics={"val_video_ids": held_out.tolist()}
    )
    seconds = time.perf_counter() - started
    log(f"loaded {n:,} videos ({', '.join(representations)}) in {seconds:.1f} s")


def spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f}, n={len(values)})"
    )


def bench_evaluate(n: int, repeats: int, baseline_queries: int) -> None:
    load(n, REPRESENTATIONS, seed=1)
    boost = SearchSettings.load().genre_boost
    walls = []
    for i in range(repeats):
        started = time.perf_counter()
        report = evaluate(REPRESENTATIONS, ("euclidean", "cosine"), boost=boost)
        walls.append(time.perf_counter() - started)
        log(f"evaluate round {i + 1}: {walls[-1]:.1f} s, {len(report.results)} combos")
    combos = len(report.results)
    queries = sum(r.n_queries + r.n_skipped for r in report.results)
    ROWS.append(
        (
            f"`evaluate`: {n:,} videos × 5 representations × 2 metrics × 2 boosts "
            f"({combos} combos, {queries:,} judged queries, graph statistics)",
            spread(walls),
            "≤ 120 s",
            "batch exact k-NN with the search's rules",
        )
    )
    both = report.result("both", "cosine")
    ROWS.append(
        (
            "  figures: both/cosine P@5 (chance), MAP@10, energy ratio",
            f"{both.precision[5]:.3f} ({both.chance[5]:.3f}), {both.map:.3f}, "
            f"{both.agreement['energy'].ratio:.2f}",
            "",
            "synthetic clusters overlap by design",
        )
    )
    # Baseline: the previous evaluation, one find_similar (HNSW) per query per combination.
    started = time.perf_counter()
    sql("SET maintenance_work_mem = '1GB'")
    sql('CREATE INDEX vv_both_cos_hnsw ON search_videovector USING hnsw ("both" vector_cosine_ops)')
    index_s = time.perf_counter() - started
    from catalog.models import Video

    sample = list(Video.objects.order_by("?")[:baseline_queries])
    per_query = []
    for boost_value in (1.0, boost):
        started = time.perf_counter()
        for video in sample:
            find_similar(video, representation="both", metric="cosine", k=10, boost=boost_value)
        per_query.append((time.perf_counter() - started) / len(sample))
    ms = statistics.mean(per_query) * 1000
    scaled = ms / 1000 * queries
    ROWS.append(
        (
            f"baseline: one `find_similar` (HNSW, both/cosine) per query, {len(sample)} "
            "sampled queries x 2 boosts, scaled to the same queries",
            f"{ms:.1f} ms/query → {scaled:.0f} s",
            "",
            f"(+ {index_s:.0f} s to build one HNSW index; speed-up "
            f"{scaled / statistics.median(walls):.0f}×)",
        )
    )


def bench_map(n: int, requests: int) -> None:
    load(n, ("both",), seed=2)
    parameters = MapParameters("both", "cosine")
    started = time.perf_counter()
    catalog_map = execute_map(create_map(parameters))
    build_s = time.perf_counter() - started
    shown = len(catalog_map.display["points"])
    ROWS.append(
        (
            f"map: PCA layout of {n:,} × 422-d (`both`), {shown:,} drawn + edges, "
            f"{n:,} points stored",
            f"{build_s:.1f} s",
            "≤ 300 s",
            "`execute_map` (what build_map and the admin job run)",
        )
    )
    client = Client()
    timings = []
    for i in range(requests + 2):
        started = time.perf_counter()
        response = client.get("/map/?representation=both")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        if i >= 2:  # the first two warm the template and connection
            timings.append(elapsed * 1000)
    find = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get("/map/?representation=both&find=Synthetic song 4242")
        find.append((time.perf_counter() - started) * 1000)
    p50, p95 = statistics.median(timings), float(np.percentile(timings, 95))
    ROWS.append(
        (
            f"`GET /map/` ({len(response.content) / 1e6:.2f} MB page), {requests} requests",
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
            "≤ 300 ms",
            f"with `find=`: p50 {statistics.median(find):.0f} ms",
        )
    )
    started = time.perf_counter()
    compute_layout(parameters)
    per_request = time.perf_counter() - started
    ROWS.append(
        (
            "baseline: computing the layout per request (not stored)",
            f"{per_request:.1f} s",
            "",
            f"storing it: {per_request * 1000 / p50:.0f}× faster to serve",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--map-videos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-queries", type=int, default=300)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--only", choices=("evaluate", "map"))
    args = parser.parse_args()
    scratch_db.fresh_database(BENCH_DB)
    try:
        if args.only in (None, "evaluate"):
            bench_evaluate(args.videos, args.repeats, args.baseline_queries)
        if args.only in (None, "map"):
            bench_map(args.map_videos, args.requests)
    finally:
        scratch_db.drop_database(BENCH_DB)
    lines = [
        f"`bench/evaluation.py` — {time.strftime('%Y-%m-%d')}",
        "",
        "| what | measured | target | notes |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in ROWS),
    ]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
