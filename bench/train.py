"""Benchmark: train the composite autoencoder on synthetic music-video features.

Run: ``.venv/bin/python bench/train.py [--videos 1000] [--epochs 100] [--threads 2]``

Synthetic data (see :func:`make_synthetic`) mimics the real layout: 68 audio + 354 visual
features per 10 s segment, 6-60 segments per video, 10 genres. Each genre has its own
low-rank loading of a latent trajectory plus its own temporal dynamics, on top of a
shared nuisance subspace (per-video "artist style") and noise, so neither mean pooling nor
the sequence model is trivially perfect. Prints a table of timings and accuracies.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from ml.dataset import N_FEATURES  # noqa: E402

N_AUDIO = 68


def make_synthetic(
    n_videos: int = 1000,
    n_classes: int = 10,
    *,
    min_len: int = 6,
    max_len: int = 60,
    signal: float = 0.45,
    shift: float = 0.05,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[str]]:
    """Return ``(sequences, labels)``: class-dependent low-rank signal + nuisance + noise."""
    rng = np.random.default_rng(seed)
    rank, nuisance_rank = 6, 12
    # Genre: loading of a latent trajectory, mean shift, AR(1) persistence, oscillation rate.
    loadings = rng.normal(size=(n_classes, rank, N_FEATURES)) / np.sqrt(rank)
    shifts = rng.normal(size=(n_classes, N_FEATURES)) * shift
    persistence = rng.uniform(0.3, 0.95, size=n_classes)
    frequency = rng.uniform(0.0, 1.2, size=n_classes)
    nuisance = rng.normal(size=(nuisance_rank, N_FEATURES)) / np.sqrt(nuisance_rank)
    # Real features have wildly different units (energy vs. colour histograms).
    scale = np.concatenate(
        [rng.lognormal(0.0, 1.5, N_AUDIO), rng.uniform(0.01, 0.2, N_FEATURES - N_AUDIO)]
    )
    offset = rng.normal(size=N_FEATURES) * scale * 3
    sequences, labels = [], []
    for i in range(n_videos):
        c = i % n_classes
        n = int(rng.integers(min_len, max_len + 1))
        z = np.zeros((n, rank))
        z[0] = rng.normal(size=rank)
        phase = rng.uniform(0, 2 * np.pi)
        for t in range(1, n):
            z[t] = persistence[c] * z[t - 1] + np.sqrt(1 - persistence[c] ** 2) * rng.normal(
                size=rank
            )
        z += np.sin(frequency[c] * np.arange(n) + phase)[:, None]
        style = rng.normal(size=nuisance_rank) * 1.5
        x = (
            signal * (z @ loadings[c] + shifts[c])
            + style @ nuisance
            + rng.normal(size=(n, N_FEATURES))
        )
        sequences.append((x * scale + offset).astype(np.float32))
        labels.append(f"genre_{c:02d}")
    order = rng.permutation(n_videos)
    return [sequences[i] for i in order], [labels[i] for i in order]


def _encode_throughput(loaded, sequences: list[np.ndarray], repeats: int = 3) -> float:  # noqa: ANN001
    loaded.encode(sequences[:300])  # warm-up: builds the compiled predict function
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        loaded.encode(sequences)
        best = min(best, time.perf_counter() - started)
    return len(sequences) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="TF intra/inter-op threads")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-seed", type=int, default=0)
    # Model options default to TrainingConfig's defaults; only those given are overridden.
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--bidirectional", action="store_true", default=None)
    parser.add_argument("--reconstruction-weight", type=float)
    parser.add_argument("--genre-weight", type=float)
    parser.add_argument("--out", type=Path, default=None, help="artifact dir (default: temp)")
    args = parser.parse_args(argv)

    overrides = {
        key: getattr(args, key)
        for key in (
            "learning_rate",
            "dropout",
            "bidirectional",
            "reconstruction_weight",
            "genre_weight",
        )
        if getattr(args, key) is not None
    }

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from ml.inference import LoadedModel
    from ml.training import train_composite

    started = time.perf_counter()
    sequences, labels = make_synthetic(args.videos, args.classes, seed=args.data_seed)
    data_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="mvsim-bench-") as tmp:
        out_dir = args.out or Path(tmp)
        started = time.perf_counter()
        result = train_composite(
            sequences,
            labels,
            out_dir=out_dir,
            epochs=args.epochs,
            patience=args.patience,
            batch_size=args.batch_size,
            seed=args.seed,
            progress_verbose=0,
            **overrides,
        )
        total = time.perf_counter() - started
        started = time.perf_counter()
        loaded = LoadedModel.load(result.model_path, result.scaler_path, result.labels_path)
        load_seconds = time.perf_counter() - started
        throughput = _encode_throughput(loaded, sequences)

    m = result.metrics
    epochs = m["epochs_run"]
    rows = [
        ("videos (train / val)", f"{args.videos} ({m['n_train']} / {m['n_val']})"),
        ("genres", str(args.classes)),
        (
            "config",
            " ".join(
                f"{k}={result.config[k]}"
                for k in (
                    "bidirectional",
                    "dropout",
                    "learning_rate",
                    "reconstruction_weight",
                    "batch_size",
                    "patience",
                )
            ),
        ),
        (
            "TF threads / CPUs / load avg",
            f"{args.threads} / {os.cpu_count()} / "
            f"{os.getloadavg()[0]:.1f} (timings are wall clock)",
        ),
        ("synthetic data generation", f"{data_seconds:.1f} s"),
        ("epochs run (best epoch)", f"{epochs} ({m['best_epoch']})"),
        ("seconds / epoch", f"{m['train_seconds'] / max(epochs, 1):.2f} s"),
        ("fit time", f"{m['train_seconds']:.1f} s"),
        ("total train_composite()", f"{total:.1f} s  (target <= 180 s)"),
        ("model load", f"{load_seconds:.1f} s"),
        ("encode throughput (batch 256)", f"{throughput:.0f} videos/s  (target >= 500)"),
        ("val accuracy: network", f"{m['val_accuracy']:.3f} (macro F1 {m['macro_f1']:.3f})"),
        (
            "val accuracy: baseline",
            f"{m['baseline_val_accuracy']:.3f} (macro F1 {m['baseline_macro_f1']:.3f})",
        ),
        ("chance (majority class)", f"{m['chance_accuracy']:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}} | value")
    print(f"{'-' * width}-+-{'-' * 40}")
    for key, value in rows:
        print(f"{key:<{width}} | {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
