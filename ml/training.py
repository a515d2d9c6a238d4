"""Train the composite autoencoder, evaluate it honestly, and write its artifacts.

Entry point: :func:`train_composite`. Everything that can be checked cheaply (shapes, labels,
genre counts) is checked before any file is written or TensorFlow is imported.

Evaluation: the same stratified validation split scores both the network and a baseline
(mean of the standardised segments of each video + logistic regression). Both are reported
side by side, whichever wins.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml.dataset import (
    CODE_DIM,
    INPUT_FEATURES,
    SEQUENCE_LENGTH,
    TrainingDataError,
    as_sequence,
    build_arrays,
    fit_scaler,
    input_width,
    pooled_features,
    save_labels,
    stratified_split,
    validate_training_set,
)

MODEL_FILENAME = "model.keras"
SCALER_FILENAME = "scaler.npz"
LABELS_FILENAME = "labels.json"
REPORT_FILENAME = "training.json"
HISTORY_PLOT_FILENAME = "history.png"
CONFUSION_PLOT_FILENAME = "confusion.png"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters; the defaults are the benchmark-checked, fast configuration."""

    epochs: int = 100
    val_fraction: float = 0.2
    seed: int = 42
    batch_size: int = 32
    patience: int = 15
    learning_rate: float = 1e-3
    bidirectional: bool = False
    dropout: float = 0.2  # benchmark: 0.755 -> 0.93 val accuracy vs. no dropout
    dense_units: int = 64
    code_dim: int = CODE_DIM
    reconstruction_weight: float = 1.0
    genre_weight: float = 1.0
    # Benchmark (docs/benchmarks.md): held-out code P@5 0.854 -> 0.862, paired 5 x 5-fold.
    centre_code: bool = True
    deterministic: bool = True
    baseline_c: float = 1.0  # inverse L2 strength of the logistic-regression baseline
    # What each segment contributes (ml.dataset.INPUT_WIDTHS). The catalog's training
    # (ml.services.train_model) picks "music" when every video has it: see docs/benchmarks.md.
    inputs: str = INPUT_FEATURES

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be at least 1.")
        input_width(self.inputs)  # ValueError for unknown inputs

    @classmethod
    def with_overrides(cls, **overrides: Any) -> TrainingConfig:
        """Build a config, rejecting unknown keys with a message listing the valid ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(
                f"Unknown training option(s): {', '.join(unknown)}. "
                f"Valid options: {', '.join(sorted(known))}."
            )
        return cls(**overrides)


@dataclass
class TrainingResult:
    """Paths of the written artifacts plus JSON-able history and metrics."""

    model_path: Path
    scaler_path: Path
    labels_path: Path
    report_path: Path
    history_plot_path: Path
    confusion_plot_path: Path
    labels: list[str]
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    config: dict[str, Any]
    skipped: list[int] = field(default_factory=list)  # input indices with zero segments
    val_indices: list[int] = field(default_factory=list)  # input indices held out (validation)

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON types (paths as strings)."""
        out = dataclasses.asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


ProgressCallback = Callable[[int, dict[str, float]], None]


def train_composite(
    sequences: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    out_dir: Path | str,
    epochs: int = 100,
    val_fraction: float = 0.2,
    seed: int = 42,
    batch_size: int = 32,
    patience: int = 15,
    progress_verbose: int = 1,
    on_epoch_end: ProgressCallback | None = None,
    **overrides: Any,
) -> TrainingResult:
    """Train on ``sequences[i]`` (``(n_i, width)`` arrays, width given by the ``inputs``
    override: 422 for "features", the default; 200 for "music") labelled ``labels[i]``.

    ``overrides`` are other :class:`TrainingConfig` fields (``learning_rate``,
    ``bidirectional``, ``dropout``, ...). ``on_epoch_end(epoch, logs)`` is called after each
    epoch (e.g. to update a progress row). Videos with zero segments are skipped and listed
    in ``result.skipped``.

    Raises ``TrainingDataError`` (before writing anything) when the labelled set is unusable:
    mismatched lengths, malformed arrays, fewer than 2 genres, or a genre with < 2 videos.
    Raises ``TypeError`` for unknown override names.
    """
    started = time.perf_counter()
    config = TrainingConfig.with_overrides(
        epochs=epochs,
        val_fraction=val_fraction,
        seed=seed,
        batch_size=batch_size,
        patience=patience,
        **overrides,
    )
    width = input_width(config.inputs)
    kept, kept_labels, skipped = _select_usable(sequences, labels, width)
    validate_training_set(kept_labels)
    dropped = set(skipped)
    kept_positions = [i for i in range(len(sequences)) if i not in dropped]

    class_names = sorted(set(kept_labels))
    class_index = {name: i for i, name in enumerate(class_names)}
    y = np.array([class_index[name] for name in kept_labels], dtype=np.int64)
    train_idx, val_idx = stratified_split(kept_labels, config.val_fraction, config.seed)

    scaler = fit_scaler([kept[i] for i in train_idx], width)
    X, mask = build_arrays(kept, scaler)

    # Only now, with validated data, import TF and create files.
    from ml import network

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network.seed_everything(config.seed, deterministic=config.deterministic)
    model = network.build_composite(
        len(class_names),
        SEQUENCE_LENGTH,
        n_features=width,
        code_dim=config.code_dim,
        bidirectional=config.bidirectional,
        dropout=config.dropout,
        dense_units=config.dense_units,
        learning_rate=config.learning_rate,
        reconstruction_weight=config.reconstruction_weight,
        genre_weight=config.genre_weight,
    )

    def inputs(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {network.INPUT_SEQUENCE: X[idx], network.INPUT_MASK: mask[idx]}

    def targets(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {
            network.RECONSTRUCTION: network.reconstruction_target(X[idx], mask[idx]),
            network.GENRE: y[idx],
        }

    callbacks: list[Any] = [_best_genre_accuracy_callback(config.patience)]
    if on_epoch_end is not None:
        callbacks.append(_progress_callback(on_epoch_end))

    fit_started = time.perf_counter()
    fit = model.fit(
        inputs(train_idx),
        targets(train_idx),
        validation_data=(inputs(val_idx), targets(val_idx)),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=progress_verbose,
    )
    train_seconds = time.perf_counter() - fit_started
    stopper = callbacks[0]
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}

    encoder = network.encoder_model(model)
    encoded = encoder.predict(inputs(np.arange(len(y))), batch_size=256, verbose=0)
    codes = np.asarray(encoded["code"])
    if config.centre_code:
        # Centre the codes on the training videos' mean (network.centre_code says why). The
        # centred model encodes exactly codes - mean, with the same genre outputs: no re-run.
        mean = codes[train_idx].mean(axis=0)
        network.centre_code(model, mean)
        codes = codes - mean
    probs = np.asarray(encoded["genre"])[val_idx]
    y_val = y[val_idx]
    code_precision = held_out_code_precision(codes, y, val_idx)
    net_eval = classification_metrics(y_val, probs.argmax(axis=1), class_names)

    baseline_eval = _baseline(X, mask, y, train_idx, val_idx, class_names, config.baseline_c)

    metrics: dict[str, Any] = {
        "val_accuracy": net_eval["accuracy"],
        "macro_f1": net_eval["macro_f1"],
        "per_genre": net_eval["per_genre"],
        "confusion_matrix": net_eval["confusion_matrix"],
        "confusion_labels": class_names,
        "baseline": "mean-pooled standardised segments + LogisticRegression",
        "baseline_val_accuracy": baseline_eval["accuracy"],
        "baseline_macro_f1": baseline_eval["macro_f1"],
        "baseline_per_genre": baseline_eval["per_genre"],
        "baseline_confusion_matrix": baseline_eval["confusion_matrix"],
        "chance_accuracy": float(np.bincount(y_val).max() / len(y_val)),
        # Genre precision@5 of each validation video's code among all the others (cosine).
        "val_code_precision_at_5": code_precision,
        "n_train": int(len(train_idx)),
        "n_val": int(len(val_idx)),
        "n_skipped": len(skipped),
        "epochs_run": len(history.get("loss", [])),
        "best_epoch": stopper.best_epoch + 1,
        "train_seconds": round(train_seconds, 2),
    }

    from ml import plots

    model_path = out / MODEL_FILENAME
    model.save(model_path)
    scaler_path = scaler.save(out / SCALER_FILENAME)
    labels_path = save_labels(class_names, out / LABELS_FILENAME)
    history_plot = plots.plot_history(
        history, out / HISTORY_PLOT_FILENAME, best_epoch=metrics["best_epoch"]
    )
    confusion_plot = plots.plot_confusion(
        net_eval["confusion_matrix"], class_names, out / CONFUSION_PLOT_FILENAME
    )
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    result = TrainingResult(
        model_path=model_path,
        scaler_path=scaler_path,
        labels_path=labels_path,
        report_path=out / REPORT_FILENAME,
        history_plot_path=history_plot,
        confusion_plot_path=confusion_plot,
        labels=class_names,
        history=history,
        metrics=metrics,
        config=dataclasses.asdict(config),
        skipped=skipped,
        val_indices=[kept_positions[j] for j in val_idx.tolist()],
    )
    result.report_path.write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")
    return result


def held_out_code_precision(
    codes: np.ndarray, y: np.ndarray, query_idx: np.ndarray, k: int = 5
) -> float | None:
    """Mean share of same-genre videos among the k cosine-nearest codes of each query (the
    held-out videos), searched among every other video; None without queries."""
    if len(query_idx) == 0 or len(codes) < 2:
        return None
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    unit = codes / np.where(norms > 0, norms, 1.0)
    similarity = unit[query_idx] @ unit.T
    similarity[np.arange(len(query_idx)), query_idx] = -np.inf  # not the query itself
    k = min(k, len(codes) - 1)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return float(np.mean(y[nearest] == y[query_idx][:, None]))


def _select_usable(
    sequences: Sequence[np.ndarray], labels: Sequence[str], width: int
) -> tuple[list[np.ndarray], list[str], list[int]]:
    """Check inputs and drop zero-segment videos; returns (kept, kept_labels, skipped)."""
    if len(sequences) != len(labels):
        raise TrainingDataError(
            f"Got {len(sequences)} feature sequences but {len(labels)} labels; "
            "they must correspond one to one."
        )
    kept: list[np.ndarray] = []
    kept_labels: list[str] = []
    skipped: list[int] = []
    for i, (seq, label) in enumerate(zip(sequences, labels, strict=True)):
        if not isinstance(label, str) or not label.strip():
            raise TrainingDataError(f"Video #{i} has an empty or non-text genre label: {label!r}.")
        arr = as_sequence(seq, index=i, width=width)
        if len(arr) == 0:
            skipped.append(i)  # no segment extracted yet: nothing to learn from
            continue
        kept.append(arr)
        kept_labels.append(label)
    return kept, kept_labels, skipped


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro F1, per-genre precision/recall/F1/support and confusion matrix."""
    # scikit-learn takes ~1 s to import: only training pays for it, not the web process.
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    per_genre = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_genre": per_genre,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def _baseline(
    X: np.ndarray,
    mask: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    class_names: Sequence[str],
    c: float,
) -> dict[str, Any]:
    """Mean-pooled standardised segments + logistic regression on the same split."""
    # Imported here for the same reason as in classification_metrics.
    from sklearn.linear_model import LogisticRegression

    pooled = pooled_features(X, mask)
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(pooled[train_idx], y[train_idx])
    return classification_metrics(y[val_idx], clf.predict(pooled[val_idx]), class_names)


def _best_genre_accuracy_callback(patience: int) -> Any:
    """Early stopping on ``val_genre_accuracy`` that always restores the best weights.

    Best epoch = highest ``val_genre_accuracy``; ties (frequent on small validation sets)
    go to the lower ``val_genre_loss``. Patience counts epochs in which *neither* validation
    accuracy nor validation genre loss improved: the LSTM often sits near chance accuracy
    for a dozen epochs while its loss is already falling, and stopping on accuracy alone
    killed such runs at a lucky early epoch (benchmark: 13.5% instead of ~90%). Unlike Keras'
    EarlyStopping, the best weights are restored even when all epochs run.
    """
    import keras  # TensorFlow loads in workers and commands only, never in the web process

    class BestGenreAccuracy(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best: tuple[float, float] = (-np.inf, -np.inf)
            self.best_loss = np.inf
            self.best_epoch = 0
            self.best_weights: list[np.ndarray] | None = None
            self.wait = 0

        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            logs = logs or {}
            if "val_genre_accuracy" not in logs or "val_genre_loss" not in logs:
                raise KeyError("val_genre_accuracy / val_genre_loss missing from epoch logs.")
            accuracy, loss = float(logs["val_genre_accuracy"]), float(logs["val_genre_loss"])
            progressed = False
            if (accuracy, -loss) > self.best:
                self.best, self.best_epoch = (accuracy, -loss), epoch
                self.best_weights = self.model.get_weights()
                progressed = True
            if loss < self.best_loss:
                self.best_loss = loss
                progressed = True
            self.wait = 0 if progressed else self.wait + 1
            if self.wait >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs: Mapping[str, float] | None = None) -> None:
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return BestGenreAccuracy()


def _progress_callback(fn: ProgressCallback) -> Any:
    import keras  # as above: not at module level

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            fn(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})

    return Progress()
