"""Load benchmark: gunicorn on loopback against a synthetic catalog (issue 15).

    .venv/bin/python bench/load.py [--size 100000] [--seconds 60] [--clients 16,64]
        [--workers 4] [--queries 200]

A catalog of ``--size`` videos is loaded by COPY into its own database (``mvsim_bench_load``,
through bench/search.py's loaders: code/both/music vectors, HNSW indexes, tags, durations, and
18 segments for every video a query touches, so explanations do real work). gunicorn serves the
real site (``mvsite.wsgi``, production-like: DEBUG off, sync workers) on 127.0.0.1 only; an
asyncio HTTP/1.1 client with one keep-alive connection per simulated client requests, for
``--seconds`` per row and at most 200,000 requests per row:

- ``GET /api/videos/{id}/similar/?representation=code&metric=cosine&k=10`` (JSON with
  explanations),
- the results page ``/videos/{id}/results/`` (HTML, both lists),
- ``/explore/`` (HTML, a page of 24 cards),

for each concurrency in ``--clients``. Rows: requests/s, p50/p99 ms, errors (non-200 or a
broken connection). The client shares the 2 cores with the server: the figures are what this
machine serves to itself. Traffic never leaves 127.0.0.1; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MVSIM_BENCH_DB", "mvsim_bench_load")

import numpy as np  # noqa: E402

from bench import search as loaders  # noqa: E402  (sets Django up on the bench database)
from bench.extract import make_clip  # noqa: E402

MAX_REQUESTS_PER_ROW = 200_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_catalog(size: int, n_queries: int) -> list[int]:
    """Load the catalog and indexes; returns the query video ids (with segments)."""
    loaders.prepare_database()
    gen = loaders.Generator(0.5)
    loaders.load_catalog(size, gen, with_both=True)
    for column in ("code", "both", "music"):
        seconds = loaders.build_index(column, "cosine")
        loaders.log(f"HNSW {column}/cosine built in {seconds:.0f} s")
    loaders.sql("ANALYZE search_videovector")
    loaders.sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    rng = np.random.default_rng(15)
    ids = sorted(int(i) for i in rng.choice(size, size=n_queries, replace=False) + 1)
    loaders.identity_generation()
    loaders.load_tags_and_durations(size, rng)
    involved = set(ids)
    videos = loaders.Video.objects.in_bulk(ids)
    for pk in ids:
        involved |= {
            m.video.pk
            for m in loaders.find_similar(
                videos[pk], representation="code", metric="cosine", k=loaders.K
            )
        }
        involved |= {
            m.video.pk
            for m in loaders.find_similar(
                videos[pk], representation="both", metric="cosine", k=loaders.K
            )
        }
    loaders.load_segments(sorted(involved), rng)
    loaders.sql("VACUUM ANALYZE")
    return ids


def start_gunicorn(port: int, workers: int, log_file: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "MVSIM_DB_NAME": loaders.BENCH_DB,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "MVSIM_SEARCH_RATE": "off",
        # The product's default (bench/search.py turns the cache off for its own rows).
        "MVSIM_RESULT_CACHE_SECONDS": "600",
        "DJANGO_SETTINGS_MODULE": "mvsite.settings",
    }
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    command = [
        gunicorn or "gunicorn",
        "mvsite.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--backlog",
        "512",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {log_file}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start within 60 s")


# One extraction worker's loop: the product's extractor with MusiCNN on a 60 s clip, forever.
EXTRACTOR = """
import os, sys
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvsite.settings")
import django
django.setup()
from features import musicnn
from features.extraction import extract_file
model = musicnn.get_model()
while True:
    result = extract_file({clip!r}, music_model=model)
    print(f"extracted {{result.duration:.0f}} s", flush=True)
"""


def start_extractors(count: int, out_dir: Path) -> list[subprocess.Popen]:
    """``count`` processes extracting at full speed (unpinned), as RQ workers would."""
    clip = str(make_clip(60))
    code = EXTRACTOR.format(root=str(ROOT), clip=clip)
    processes = []
    for n in range(count):
        log = (out_dir / f"load-extractor-{n}.log").open("w")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        )
    return processes


async def _client(
    port: int,
    paths: list[str],
    offset: int,
    deadline: float,
    out: dict,
    budget: list[int],
    bust: bool,
    step: int = 1,
    once: bool = False,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.monotonic() < deadline and budget[0] > 0:
            if once and i >= len(paths):
                break
            budget[0] -= 1
            path = paths[i % len(paths)]
            i += step
            if bust:  # a parameter the view ignores: every request misses the result cache
                out["nonce"] += 1
                path += f"&nonce={out['nonce']}"
            started = time.perf_counter()
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await reader.readline()
            length, close = None, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
                elif name.lower() == "x-result-cache" and value.strip() == "hit":
                    out["hits"] += 1
            if length is None:  # no length: the body ends with the connection
                await reader.read()
                close = True
            else:
                await reader.readexactly(length)
            out["times"].append((time.perf_counter() - started) * 1000)
            if not status_line.startswith(b"HTTP/1.1 200"):
                out["errors"] += 1
            if close:  # gunicorn's sync workers close after each response
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        out["errors"] += 1
    finally:
        writer.close()


async def _run(
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    bust: bool = False,
    once: bool = False,
) -> dict:
    """``clients`` connections for ``seconds``; with ``once`` every path exactly once, split
    between the clients."""
    out: dict = {"times": [], "errors": 0, "hits": 0, "nonce": int(time.time() * 1000) * 1000}
    deadline = time.monotonic() + seconds
    budget = [MAX_REQUESTS_PER_ROW]
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _client(
                port,
                paths,
                c if once else c * 7,
                deadline,
                out,
                budget,
                bust,
                step=clients if once else 1,
                once=once,
            )
            for c in range(clients)
        )
    )
    out["seconds"] = time.perf_counter() - started
    return out


def measure(
    port: int, name: str, paths: list[str], clients: int, seconds: float, bust: bool = False
) -> dict:
    asyncio.run(_run(port, paths, clients, min(5.0, seconds), bust))  # warm every worker up
    result = asyncio.run(_run(port, paths, clients, seconds, bust))
    times = sorted(result["times"])
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))] if times else None
    row = {
        "what": name,
        "clients": clients,
        "requests": len(times),
        "rps": len(times) / result["seconds"],
        "p50": statistics.median(times) if times else None,
        "p99": p99,
        "errors": result["errors"],
        "hits": result["hits"] / len(times) if times else 0.0,
    }
    loaders.log(
        f"{name} x{clients}: {row['rps']:.0f} req/s, p50 {row['p50']:.1f} ms, "
        f"p99 {row['p99']:.1f} ms, errors {row['errors']}, cache hits {row['hits']:.0%}"
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--queries", type=int, default=200, help="distinct query videos")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--api-only", action="store_true", help="skip the HTML page rows")
    parser.add_argument(
        "--extractors",
        type=int,
        default=2,
        help="extraction processes (MusiCNN on) running during the last rows; 0: none",
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    server = None
    try:
        ids = prepare_catalog(args.size, args.queries)
        loaders.connections.close_all()
        port = free_port()
        server = start_gunicorn(port, args.workers, out_dir / "load-gunicorn.log")
        api = [f"/api/videos/{pk}/similar/?representation=code&metric=cosine&k=10" for pk in ids]
        pages = {
            "results page (code)": [
                f"/videos/{pk}/results/?representation=code&metric=cosine&k=10" for pk in ids
            ],
            "explore": [f"/explore/?page={1 + i % 50}" for i in range(50)],
        }
        # Every query video's answer asked once first: the cached rows measure a warm cache
        # (the share of hits is in the table); the miss row measures the cold path.
        primed = asyncio.run(_run(port, api, 4, 600.0, once=True))
        loaders.log(f"primed {len(primed['times'])} answers")
        for n in clients:
            rows.append(measure(port, "API similar (code), cached", api, n, args.seconds))
        rows.append(
            measure(port, "API similar (code), every request a miss", api, 16, args.seconds, True)
        )
        if not args.api_only:
            for name, paths in pages.items():
                asyncio.run(_run(port, paths, 4, 600.0, once=True))  # primed, as above
                for n in clients:
                    rows.append(measure(port, name, paths, n, args.seconds))
        if args.extractors:
            extractors = start_extractors(args.extractors, out_dir)
            try:
                time.sleep(20)  # TensorFlow loaded, extraction under way
                what = f"while {args.extractors} workers extract"
                rows.append(measure(port, f"API similar, cached, {what}", api, 16, args.seconds))
                rows.append(
                    measure(port, f"API similar, misses, {what}", api, 16, args.seconds, True)
                )
            finally:
                for process in extractors:
                    process.kill()
                    process.wait()
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            loaders.drop_database()
    load = os.getloadavg()
    lines = [
        f"bench/load.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{args.size:,} videos, gunicorn {args.workers} sync workers, {args.seconds:g} s per "
        f"row, load average {load[0]:.1f} at the end",
        "",
        "| what | clients | requests | req/s | p50 ms | p99 ms | errors | cache hits |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r['what']} | {r['clients']} | {r['requests']} | {r['rps']:.0f} | "
            f"{r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} | {r['hits']:.0%} |"
            for r in rows
        ),
    ]
    text = "\n".join(lines)
    (out_dir / "load.md").write_text(text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
