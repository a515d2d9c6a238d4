"""Benchmark: the pipeline in real worker processes, against RQ's forking worker (the old way).

Run: ``.venv/bin/python bench/pipeline.py [--encode 100] [--uploads 7] [--clips 300] [--quick]``

Everything happens in a separate database (``mvsim_bench_pipeline``), Redis database 13 and
a temporary MEDIA_ROOT; workers are ``manage.py rqworker`` processes started here. Three
measurements, each with its baseline in the same run:

1. **Encode stage in a running worker**: N videos with segments enter the encode stage at
   once; per video = wall time from the first job's start to the last one's end / N, and the
   median run (claim to advance). Baseline: RQ's forking ``rq.Worker`` (every job a fresh
   work horse that imports TensorFlow and loads the model, as before issue 10).
2. **Upload to ready**: a 60 s 320x180 H.264+AAC clip POSTed to ``/api/searches/`` (Django's
   test client in this process: the web side), polled at ``/api/jobs/{id}/`` every 20 ms
   until ready, one worker running. p50 / min / max over several uploads (each clip has its
   own tone, so none is a duplicate). Baseline: the forking worker.
3. **Throughput**: real 10 s clips (cut from ``../shared/data/real-audio``) imported with
   ``import_folder --process queue`` and taken to ready by two workers: videos/min, and a
   check that every stage ran exactly once per video. Reference in the same run: the same
   number of clips through ``extract --pending --workers 2`` (no worker).

Prints a Markdown table (also written to bench/out/pipeline.md).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "mvsim_bench_pipeline"
BENCH_REDIS_DB = "13"
MEDIA = Path(tempfile.mkdtemp(prefix="mvsim-bench-pipeline-"))
OUT = ROOT / "bench" / "out"
from bench.environment import setup_django  # noqa: E402

setup_django(BENCH_DB, BENCH_REDIS_DB, MEDIA)

import numpy as np  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from bench import scratch_db  # noqa: E402
from catalog.models import Genre, Video, VideoStatus  # noqa: E402
from catalog.services import ensure_product_genres  # noqa: E402
from features.models import Segment, VideoFeatures  # noqa: E402
from features.services import ensure_feature_definitions  # noqa: E402
from ml.services import train_model  # noqa: E402
from mvsite.queues import get_connection  # noqa: E402
from pipeline import catalog_work  # noqa: E402
from pipeline import services as pipeline  # noqa: E402
from pipeline.models import RunState, StageRun  # noqa: E402
from pipeline.stages import stage_named  # noqa: E402
from tests.mediagen import make_video, run_ffmpeg  # noqa: E402

REAL_AUDIO = ROOT.parent / "shared" / "data" / "real-audio"
ROWS: list[tuple[str, str, str, str]] = []  # measurement, mvsim, baseline, target


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- set-up


def prepare() -> None:
    scratch_db.fresh_database(BENCH_DB)
    ensure_product_genres()
    ensure_feature_definitions()
    get_connection().flushdb()


def drop_database() -> None:
    scratch_db.drop_database(BENCH_DB)


def reset_catalog() -> None:
    Video.objects.all().delete()
    get_connection().flushdb()


# Every worker this run started, so that none outlives it (atexit), whatever went wrong.
STARTED: list[subprocess.Popen] = []


@atexit.register
def _kill_leftover_workers() -> None:
    for process in STARTED:
        if process.poll() is None:
            process.kill()


def start_workers(n: int, *, forking: bool = False, queues=("default", "extract")) -> list:
    processes = []
    for i in range(n):
        log_file = OUT / f"pipeline-worker-{'fork' if forking else 'simple'}-{i}.log"
        args = [sys.executable, "manage.py", "rqworker", *queues]
        if forking:
            args += ["--worker-class", "rq.Worker"]
        # INFO: preloaded() reads the "model … loaded in" line from the log.
        env = {**os.environ, "MVSIM_LOG_FILE": str(log_file), "LOG_LEVEL": "INFO"}
        processes.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
        STARTED.append(processes[-1])
    # Ready once registered with Redis (and, for ours, once the model is preloaded).
    deadline = time.monotonic() + 180
    connection = get_connection()
    while time.monotonic() < deadline:
        from rq.worker import Worker

        if len(Worker.all(connection=connection)) >= n:
            break
        time.sleep(0.2)
    time.sleep(0.5 if forking else 0.2)
    if not forking:
        wait_until(lambda: preloaded(n), 180, "the workers to preload the model")
    return processes


def preloaded(n: int) -> bool:
    logs = OUT.glob("pipeline-worker-simple-*.log")
    return sum("loaded in" in path.read_text() or "no active model" in path.read_text()
               for path in logs) >= n  # fmt: skip


def stop_workers(processes: list) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    for path in OUT.glob("pipeline-worker-*.log"):
        path.unlink()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- 1. encode


def synthetic_catalog(n: int, seed: int = 0) -> list[Video]:
    rng = np.random.default_rng(seed)
    genres = [Genre.objects.get(name=name) for name in ("Blues", "Metal", "Jazz")]
    videos = []
    for i in range(n):
        g = i % 3
        video = Video.objects.create(title=f"synthetic {i}", genre=genres[g])
        matrix = rng.normal(size=(18, 422)).astype(np.float32)
        matrix[:, g * 20 : g * 20 + 20] += 3.0
        Segment.objects.bulk_create(
            Segment(video=video, index=j, start_seconds=10 * j, end_seconds=10 * j + 10,
                    audio=row[:68], visual=row[68:])
            for j, row in enumerate(matrix)
        )  # fmt: skip
        VideoFeatures.objects.create(
            video=video, segment_count=18, audio_mean=matrix[:, :68].mean(0),
            visual_mean=matrix[:, 68:].mean(0),
        )  # fmt: skip
        videos.append(video)
    return videos


def queue_encodings(videos: list[Video]) -> None:
    stage = stage_named(VideoStatus.ENCODING)
    with transaction.atomic():
        for video in videos:
            pipeline.begin(Video.objects.select_for_update().get(pk=video.pk), stage, place="queue")


def encode_round(videos: list[Video]) -> tuple[float, float]:
    """(wall ms per video, median run ms) for these videos through the running worker(s)."""
    ids = [video.pk for video in videos]
    Video.objects.filter(pk__in=ids).update(status=VideoStatus.PENDING)
    queue_encodings(videos)
    wait_until(
        lambda: Video.objects.filter(pk__in=ids, status=VideoStatus.READY).count() == len(ids),
        900,
        "the encodings",
    )
    runs = list(
        StageRun.objects.filter(video_id__in=ids, stage=VideoStatus.ENCODING, state=RunState.DONE)
        .order_by("-queued_at")[: len(ids)]
        .values_list("started_at", "finished_at")
    )
    first = min(started for started, _ in runs)
    last = max(finished for _, finished in runs)
    wall = (last - first).total_seconds() * 1000 / len(ids)
    median = statistics.median((f - s).total_seconds() * 1000 for s, f in runs)
    return wall, median


def bench_encode(n: int, baseline_n: int, rounds: int) -> None:
    log(f"encode: {n} synthetic videos, training a small model to encode with")
    reset_catalog()
    videos = synthetic_catalog(max(n, 30))
    version = train_model(epochs=3, verbose=0)
    catalog_work.activate_model(version)
    workers = start_workers(1)
    try:
        results = [encode_round(videos[:n]) for _ in range(rounds)]
    finally:
        stop_workers(workers)
    log(f"encode, ours: {results}")
    workers = start_workers(1, forking=True)
    try:
        baseline = encode_round(videos[:baseline_n])
    finally:
        stop_workers(workers)
    log(f"encode, forking baseline: {baseline}")
    walls = [wall for wall, _ in results]
    ROWS.append(
        (
            f"encode stage in a running worker, ms per video ({n} videos x {rounds} rounds; "
            f"baseline {baseline_n})",
            f"{statistics.median(walls):.1f} (rounds {min(walls):.1f}-{max(walls):.1f}; "
            f"median run {statistics.median(m for _, m in results):.1f})",
            f"{baseline[0]:.0f} (median run {baseline[1]:.0f})",
            "≤ 50 ms",
        )
    )


# --------------------------------------------------------------------------- 2. upload


def upload_once(client: Client, clip: Path) -> float:
    started = time.perf_counter()
    response = client.post(
        "/api/searches/", {"file": SimpleUploadedFile(clip.name, clip.read_bytes())}
    )
    assert response.status_code == 202, response.content
    job_url = response.json()["job_url"]
    while True:
        state = client.get(job_url).json()
        if state["ready"]:
            return time.perf_counter() - started
        if state["failed"]:
            raise SystemExit(f"upload failed: {state['error']}")
        if time.perf_counter() - started > 600:
            raise SystemExit("upload took over 10 minutes")
        time.sleep(0.02)


def bench_upload(n: int, baseline_n: int, tmp: Path) -> None:
    log(f"upload: {n + baseline_n} clips of 60 s")
    clips = [
        make_video(tmp / f"upload-{i}.mp4", 60, size="320x180", tone_hz=300 + 37 * i)
        for i in range(n + baseline_n)
    ]
    client = Client()
    workers = start_workers(1)
    try:
        upload_once(client, make_video(tmp / "warm.mp4", 5, size="320x180", tone_hz=100))
        ours = [upload_once(client, clip) for clip in clips[:n]]
    finally:
        stop_workers(workers)
    workers = start_workers(1, forking=True)
    try:
        baseline = [upload_once(client, clip) for clip in clips[n:]]
    finally:
        stop_workers(workers)
    log(f"upload, ours: {ours}; forking baseline: {baseline}")
    ROWS.append(
        (
            f"upload of a 60 s clip to ready through the API, one worker, s ({n} uploads; "
            f"baseline {baseline_n})",
            f"p50 {statistics.median(ours):.2f} (min {min(ours):.2f}, max {max(ours):.2f})",
            f"p50 {statistics.median(baseline):.2f}",
            "p50 ≤ 3 s",
        )
    )


# --------------------------------------------------------------------------- 3. throughput


def real_clips(n: int, folder: Path) -> int:
    sources = sorted(REAL_AUDIO.glob("*/*.wav"))
    if not sources:
        raise SystemExit(f"{REAL_AUDIO} has no clips")
    made = 0
    for start in (0, 4, 8, 12, 16, 20):
        for source in sources:
            if made >= n:
                return made
            target = folder / source.parent.name / f"{source.stem}-{start:02d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            run_ffmpeg(["-ss", str(start), "-t", "10", "-i", str(source), str(target)])
            made += 1
    return made


def runs_twice() -> int:
    counts = Counter(StageRun.objects.values_list("video_id", "stage"))
    states = Counter(StageRun.objects.values_list("state", flat=True))
    return sum(n - 1 for n in counts.values()) + sum(
        n for state, n in states.items() if state != RunState.DONE
    )


def bench_throughput(n: int, tmp: Path) -> None:
    folder = tmp / "real"
    made = real_clips(n, folder)
    log(f"throughput: {made} real 10 s clips, two workers")
    reset_catalog()
    workers = start_workers(2)
    try:
        started = time.perf_counter()
        call_command(
            "import_folder", str(folder), "--genre-from-subdir", "--process", "queue", verbosity=0
        )
        wait_until(
            lambda: (
                Video.objects.exclude(status__in=(VideoStatus.READY, VideoStatus.FAILED)).count()
                == 0
            ),
            1800,
            "the import to finish",
        )
        seconds = time.perf_counter() - started
    finally:
        stop_workers(workers)
    failed = Video.objects.filter(status=VideoStatus.FAILED).count()
    twice = runs_twice()
    log(f"throughput: {made} in {seconds:.1f} s, failed {failed}, extra runs {twice}")

    reset_catalog()
    started = time.perf_counter()
    call_command(
        "import_folder", str(folder), "--genre-from-subdir", "--process", "none", verbosity=0
    )
    call_command("extract", "--pending", "--workers", "2", verbosity=0)
    here = time.perf_counter() - started
    log(f"throughput, extract --workers 2: {here:.1f} s")
    ROWS.append(
        (
            f"{made} real 10 s clips imported and taken to ready by two workers, videos/min",
            f"{60 * made / seconds:.0f} ({seconds:.1f} s; {failed} failed; "
            f"stages run more than once: {twice})",
            f"{60 * made / here:.0f} with `extract --pending --workers 2` (no worker)",
            "report; no job runs twice",
        )
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encode", type=int, default=100)
    parser.add_argument("--uploads", type=int, default=7)
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only", choices=("encode", "upload", "throughput"), help="run one measurement"
    )
    args = parser.parse_args()
    if args.quick:
        args.encode, args.uploads, args.clips = 20, 2, 30
    OUT.mkdir(parents=True, exist_ok=True)
    prepare()
    with tempfile.TemporaryDirectory(prefix="mvsim-bench-clips-") as tmp:
        try:
            if args.only in (None, "encode"):
                bench_encode(args.encode, baseline_n=5 if not args.quick else 2, rounds=3)
            if args.only in (None, "upload"):
                bench_upload(args.uploads, baseline_n=2 if not args.quick else 1, tmp=Path(tmp))
            if args.only in (None, "throughput"):
                bench_throughput(args.clips, Path(tmp))
        finally:
            drop_database()
            shutil.rmtree(MEDIA, ignore_errors=True)
    load = os.getloadavg()
    lines = [
        f"bench/pipeline.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}",
        "",
        "| measurement | mvsim (pipeline worker) | baseline (RQ forking worker) | target |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in ROWS),
    ]
    text = "\n".join(lines)
    (OUT / "pipeline.md").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
