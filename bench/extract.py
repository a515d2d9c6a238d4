"""Benchmark the feature extractor against the original student pipeline, on one core.

    .venv/bin/python bench/extract.py            # 180 s and 10 min clips
    .venv/bin/python bench/extract.py --quick    # 180 s clip only, one repeat
    .venv/bin/python bench/extract.py --quick --no-baseline --against HEAD~3
                                                 # the same runs with the code of another commit

Each clip also runs with thumbnails off (features.thumbnails; --no-thumbnails-variant skips
it), and the thumbnail overhead is printed: the seconds spent on them inside extraction as a
share of its wall time, and on vs off in the same run.

Clips are generated once with ffmpeg (lavfi testsrc2 + sine, 640x360, 25 fps, H.264 + AAC)
and cached in bench/out/ (gitignored). Every measurement runs in a fresh child process pinned
to one CPU (sched_setaffinity, inherited by its ffmpeg children) with one thread for
OpenCV/BLAS, after a warm-up on a 12 s clip (a worker process imports once and extracts many
files; 12 s so that a full 10 s segment has been through every step, e.g. MusiCNN's batch of 3
patches, whose oneDNN kernels are generated on first use). CPU seconds (the child's own plus
its ffmpeg children's) are reported next to wall time because the host may be shared: CPU time
is what load from other processes inflates least.

``--against REV`` exports the tree of git revision REV (``git archive``) into bench/out/ and runs
every measurement of ours a second time with that code (the child's PYTHONPATH points at the
export), interleaved with the current tree's runs, so a change is compared in the same run
under the same background load; ``--code REV2`` runs the other rows with the code of REV2
instead of the work tree (so uncommitted changes of others do not count). Every run's CPU
seconds are printed after the table (spread).

The baseline does what the original project did: cut the file into 10 s part files with
ffmpeg (`ffmpeg -ss T -i in -t 10 part.mp4`, i.e. re-encoded with ffmpeg's defaults, as a
plain cut does; stream copy would cut at keyframes, not at 10 s), write each part's audio to a
44.1 kHz WAV, run pyAudioAnalysis mid_feature_extraction on it, and grab a frame every 0.51 s
with cv2.VideoCapture, resized to 256 px wide, for the same visual features (computed with our
vectorised extractor, so the baseline is if anything flattered on the visual side).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "OPENCV_FFMPEG_THREADS": "1",
    "MPLBACKEND": "Agg",
}


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(seconds: int, size: str = "640x360") -> Path:
    """The cached benchmark clip of ``seconds`` seconds (generated on first use)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"testsrc2_{size}_{seconds}s.mp4"
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".part.mp4")
    print(f"generating {path.name} (once) ...", file=sys.stderr, flush=True)
    subprocess.run(
        [
            ffmpeg(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:beep_factor=4",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-threads",
            "2",
            str(tmp),
        ],
        check=True,
    )
    tmp.rename(path)
    return path


# --- child side ------------------------------------------------------------------------------


def _pin(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    import cv2

    cv2.setNumThreads(1)


def _usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_self": me.ru_utime + me.ru_stime,
        "cpu_children": kids.ru_utime + kids.ru_stime,
        "rss_self_mb": me.ru_maxrss / 1024,
        "rss_children_mb": kids.ru_maxrss / 1024,
    }


def _run_ours(
    path: str, warm: str, music: bool = False, thumbnails: bool = True
) -> dict[str, float]:
    from features.extraction import extract_file

    model, load = None, 0.0
    if music:
        from features import musicnn

        t0 = time.perf_counter()
        model = musicnn.get_model()  # imports TensorFlow, reads the checkpoint
        load = time.perf_counter() - t0
    extract_file(warm, music_model=model, thumbnails=thumbnails)  # imports, first-call costs
    before = _usage()
    t0 = time.perf_counter()
    r = extract_file(path, music_model=model, thumbnails=thumbnails)
    wall = time.perf_counter() - t0
    after = _usage()
    return {
        "music": r.music_seconds,
        "thumbnails": r.thumbnail_seconds,
        "music_load": load,
        "wall": wall,
        "duration": r.duration,
        "segments": len(r.segments),
        "decode": r.decode_seconds,
        "audio": r.audio_seconds,
        "visual": r.visual_seconds,
        "cpu_self": after["cpu_self"] - before["cpu_self"],
        "cpu_children": after["cpu_children"] - before["cpu_children"],
        "rss_self_mb": after["rss_self_mb"],
        "rss_children_mb": after["rss_children_mb"],
    }


# How the baseline cuts its 10 s part files: a plain `ffmpeg -ss T -i in -t 10 part.mp4`
# re-encodes (ffmpeg's defaults); `-c copy` is faster but cuts at keyframes, not at 10 s.
CUT_ARGS = {"reencode": ["-threads", "1"], "copy": ["-c", "copy"]}


def _run_baseline(path: str, warm: str) -> dict[str, float]:
    import warnings

    import cv2
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyAudioAnalysis import MidTermFeatures, audioBasicIO

    from features.media import probe
    from features.visual import VisualExtractor

    def one_file(src: str) -> tuple[int, float, float, float]:
        info = probe(src)
        assert info.duration is not None
        n_parts = int(np.ceil(info.duration / 10.0))
        audio_s = visual_s = decode_s = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(n_parts):
                t = time.perf_counter()
                part = os.path.join(tmp, f"part_{i:03d}.mp4")
                wav = os.path.join(tmp, f"part_{i:03d}.wav")
                subprocess.run(
                    [
                        ffmpeg(),
                        "-loglevel",
                        "error",
                        "-y",
                        "-ss",
                        str(i * 10),
                        "-i",
                        src,
                        "-t",
                        "10",
                        *CUT_ARGS[os.environ.get("MVSIM_BENCH_CUT", "reencode")],
                        part,
                    ],
                    check=True,
                )
                subprocess.run(
                    [
                        ffmpeg(),
                        "-loglevel",
                        "error",
                        "-y",
                        "-i",
                        part,
                        "-vn",
                        "-ac",
                        "1",
                        "-ar",
                        "44100",
                        wav,
                    ],
                    check=True,
                )
                fs, signal = audioBasicIO.read_audio_file(wav)
                decode_s += time.perf_counter() - t
                t = time.perf_counter()
                MidTermFeatures.mid_feature_extraction(
                    signal, fs, round(0.5 * fs), round(0.5 * fs), round(0.1 * fs), round(0.1 * fs)
                )
                audio_s += time.perf_counter() - t
                cap = cv2.VideoCapture(part)
                fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
                frames, k, next_t, dec = [], 0, 0.0, 0.0
                t = time.perf_counter()
                while cap.grab():
                    if k / fps + 1e-9 >= next_t:
                        ok, bgr = cap.retrieve()
                        if ok:
                            h, w = bgr.shape[:2]
                            small = cv2.resize(
                                bgr,
                                (256, int(round(256 * h / w / 2)) * 2),
                                interpolation=cv2.INTER_AREA,
                            )
                            frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
                        next_t += 0.51
                    k += 1
                cap.release()
                dec = time.perf_counter() - t
                decode_s += dec
                t = time.perf_counter()
                VisualExtractor().segment_features(np.array(frames))
                visual_s += time.perf_counter() - t
        return n_parts, decode_s, audio_s, visual_s

    one_file(warm)
    before = _usage()
    t0 = time.perf_counter()
    n_parts, decode_s, audio_s, visual_s = one_file(path)
    wall = time.perf_counter() - t0
    after = _usage()
    return {
        "wall": wall,
        "duration": probe(path).duration or 0.0,
        "segments": n_parts,
        "decode": decode_s,
        "audio": audio_s,
        "visual": visual_s,
        "cpu_self": after["cpu_self"] - before["cpu_self"],
        "cpu_children": after["cpu_children"] - before["cpu_children"],
        "rss_self_mb": after["rss_self_mb"],
        "rss_children_mb": after["rss_children_mb"],
    }


def child_main(kind: str, path: str, warm: str, cpu: int) -> None:
    _pin(cpu)
    if kind == "baseline":
        result = _run_baseline(path, warm)
    else:
        result = _run_ours(
            path, warm, music=kind == "ours_music", thumbnails=kind != "ours_nothumbs"
        )
    print(json.dumps(result))


# --- parent side -----------------------------------------------------------------------------


def export_revision(rev: str) -> Path:
    """The tree of git revision ``rev``, exported once into bench/out/rev-<commit>/."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = OUT / f"rev-{commit[:12]}"
    if not (target / "features").is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=f"rev-{commit[:12]}.", dir=OUT))
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        tmp.rename(target)
    return target


def measure(kind: str, path: Path, warm: Path, cpu: int, tree: Path = ROOT) -> dict[str, float]:
    env = {**os.environ, **ONE_THREAD_ENV, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--file",
            str(path),
            "--warm",
            str(warm),
            "--cpu",
            str(cpu),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the least CPU time (least disturbed by other processes on the host)."""
    return min(runs, key=lambda r: r["cpu_self"] + r["cpu_children"])


def row(clip: str, name: str, r: dict[str, float]) -> str:
    cpu = r["cpu_self"] + r["cpu_children"]
    return (
        f"| {clip} | {name} | {r['wall']:.2f} | {r['duration'] / r['wall']:.1f}x "
        f"| {r['duration'] / cpu:.1f}x | {r['decode']:.2f} | {r['audio']:.2f} "
        f"| {r['visual']:.2f} | {r['cpu_self']:.2f} + {r['cpu_children']:.2f} "
        f"| {r['rss_self_mb']:.0f} / {r['rss_children_mb']:.0f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="180 s clip only, one repeat")
    ap.add_argument("--repeat", type=int, default=None, help="runs per measurement (best kept)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: last allowed)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--baseline-cut",
        choices=sorted(CUT_ARGS),
        default="reencode",
        help="how the baseline cuts part files (reencode: a plain ffmpeg cut; copy: -c copy)",
    )
    ap.add_argument("--no-music", action="store_true", help="skip the run with MusiCNN")
    ap.add_argument(
        "--no-thumbnails-variant",
        action="store_true",
        help="skip the run with thumbnails off (the thumbnail overhead row)",
    )
    ap.add_argument(
        "--code",
        metavar="REV",
        help="run our measurements with the code of git revision REV instead of the work tree "
        "(isolates a commit from other uncommitted changes)",
    )
    ap.add_argument(
        "--against",
        metavar="REV",
        help="also run our measurements with the code of git revision REV, interleaved",
    )
    ap.add_argument(
        "--child",
        choices=["ours", "ours_nothumbs", "ours_music", "baseline"],
        help=argparse.SUPPRESS,
    )
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--warm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("MVSIM_BENCH_CUT", args.baseline_cut)  # the baseline child reads it
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    if args.child:
        child_main(args.child, args.file, args.warm, cpu)
        return

    repeat = args.repeat or (1 if args.quick else 3)
    warm = make_clip(12, "160x90")
    clips = [("180 s", make_clip(180))]
    if not args.quick:
        clips.append(("10 min", make_clip(600)))
    print(f"pinned to CPU {cpu}; best of {repeat}; load average {os.getloadavg()[0]:.2f}\n")
    print(
        "| clip | pipeline | wall s | x real time | x real time per CPU-s | decode s "
        "| audio s | visual s | CPU s (python + ffmpeg) | peak RSS MB (python / ffmpeg) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    other = export_revision(args.against) if args.against else None
    mine = export_revision(args.code) if args.code else ROOT
    if args.code:
        print(f"rows without @: the code of {args.code} ({mine.name[4:]})\n")
    names = {
        "ours": "mvsim (streaming)",
        "ours_nothumbs": "mvsim, thumbnails off",
        "ours_music": "mvsim + MusiCNN",
        "baseline": "baseline (part files)",
    }
    results: dict[tuple[str, str], dict[str, float]] = {}
    spreads: list[str] = []
    for clip, path in clips:
        kinds = ["ours"] if args.no_music else ["ours", "ours_music"]
        if not args.no_thumbnails_variant:
            kinds.insert(1, "ours_nothumbs")
        # (kind, code tree, row label): the current tree, then the --against tree per kind
        variants = [(k, mine, names[k]) for k in kinds]
        if other is not None:
            variants = [
                v
                for k in kinds
                for v in ((k, mine, names[k]), (k, other, f"{names[k]} @ {other.name[4:]}"))
            ]
        if not args.no_baseline and clip == "180 s":
            variants.append(("baseline", ROOT, names["baseline"]))
        runs: dict[str, list[dict[str, float]]] = {label: [] for _, _, label in variants}
        for _ in range(repeat):  # interleaved, so all see similar background load
            for kind, tree, label in variants:
                runs[label].append(measure(kind, path, warm, cpu, tree))
        for kind, tree, label in variants:
            key = kind if tree != other else f"{kind}@{args.against}"
            results[(clip, key)] = best(runs[label])
            print(row(clip, label, results[(clip, key)]), flush=True)
            cpus = ", ".join(
                f"{r['cpu_self']:.2f}+{r['cpu_children']:.2f} ({r['wall']:.2f} s wall)"
                for r in runs[label]
            )
            spreads.append(f"{clip}, {label}: {cpus}")
    print("\nevery run, CPU s python+ffmpeg (wall):")
    for line in spreads:
        print(f"  {line}")
    for (clip, kind), r in results.items():
        if kind.startswith("ours_music"):
            minutes = r["duration"] / 60
            print(
                f"\nMusiCNN on the {clip} clip ({kind}): {r['music'] / minutes:.2f} s per "
                "audio-minute "
                f"({r['duration'] / max(r['music'], 1e-9):.0f}x real time for MusiCNN alone); "
                f"first load {r['music_load']:.1f} s; peak RSS {r['rss_self_mb']:.0f} MB"
            )
    for (clip, kind), r in results.items():
        if kind == "ours" and (clip, "ours_nothumbs") in results:
            off = results[(clip, "ours_nothumbs")]
            cpu_on = r["cpu_self"] + r["cpu_children"]
            cpu_off = off["cpu_self"] + off["cpu_children"]
            print(
                f"\nthumbnails on the {clip} clip: {r['thumbnails']:.3f} s measured inside "
                f"extraction = {100 * r['thumbnails'] / r['wall']:.1f} % of its wall time; "
                f"on vs off: wall {r['wall']:.2f} vs {off['wall']:.2f} s "
                f"({100 * (r['wall'] / off['wall'] - 1):+.1f} %), CPU {cpu_on:.2f} vs "
                f"{cpu_off:.2f} s ({100 * (cpu_on / cpu_off - 1):+.1f} %)"
            )
    if ("180 s", "baseline") in results:
        o, b = results[("180 s", "ours")], results[("180 s", "baseline")]
        cpu_o = o["cpu_self"] + o["cpu_children"]
        cpu_b = b["cpu_self"] + b["cpu_children"]
        print(
            f"\nspeed-up on the 180 s clip: {b['wall'] / o['wall']:.1f}x wall, "
            f"{cpu_b / cpu_o:.1f}x CPU time"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
