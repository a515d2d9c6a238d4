"""Sequence preparation for the composite autoencoder: scaling, fixed length, splits.

Pure NumPy on purpose: importing this module must stay cheap for web requests, so nothing
here touches TensorFlow.

A video is a float array of shape ``(n_segments, width)``, one row per 10 s segment; the
width depends on the model's inputs (:data:`INPUT_WIDTHS`): the 422 hand-made features (68
audio + 354 visual), the 200-d MusiCNN embedding, or both side by side. The network needs
``(SEQUENCE_LENGTH, width)`` plus a boolean mask telling which rows are real; see
:func:`to_fixed_length`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEQUENCE_LENGTH = 44
N_FEATURES = 422
MUSIC_FEATURES = 200
CODE_DIM = 40

# What a model reads per segment, and its width. "features": the 68 audio + 354 visual
# features; "music": the MusiCNN embedding; "features+music": both, concatenated.
INPUT_FEATURES = "features"
INPUT_MUSIC = "music"
INPUT_FEATURES_MUSIC = "features+music"
INPUT_WIDTHS = {
    INPUT_FEATURES: N_FEATURES,
    INPUT_MUSIC: MUSIC_FEATURES,
    INPUT_FEATURES_MUSIC: N_FEATURES + MUSIC_FEATURES,
}

WIDTHS = frozenset(INPUT_WIDTHS.values())


def input_width(inputs: str) -> int:
    """The per-segment width of a model reading ``inputs``; ValueError names the choices."""
    try:
        return INPUT_WIDTHS[inputs]
    except KeyError:
        raise ValueError(
            f"unknown model inputs {inputs!r}: choose one of {', '.join(INPUT_WIDTHS)}"
        ) from None


# Features whose training std is below this are constant in practice; dividing by a tiny std
# would blow noise up to huge values, so they are only centred.
STD_FLOOR = 1e-6


class TrainingDataError(ValueError):
    """The labelled videos cannot be used to train a model (the message says why)."""


class ArtifactError(ValueError):
    """A saved model artifact (model, scaler, label list) is missing or malformed."""


class ScalerError(ArtifactError):
    """A scaler file is missing, malformed, or does not match the feature layout."""


def as_sequence(
    seq: np.ndarray, *, index: int | None = None, width: int = N_FEATURES
) -> np.ndarray:
    """Return ``seq`` as a float32 ``(n, width)`` array or raise ``TrainingDataError``."""
    arr = np.asarray(seq, dtype=np.float32)
    where = f"video #{index}" if index is not None else "sequence"
    if arr.ndim == 1 and arr.size == 0:
        return arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise TrainingDataError(
            f"{where} has feature shape {arr.shape}; expected (n_segments, {width})."
        )
    return arr


@dataclass(frozen=True)
class Scaler:
    """Per-feature standardisation fitted on real (unpadded) training segments only."""

    mean: np.ndarray  # (width,) float32
    std: np.ndarray  # (width,) float32, already floored

    @property
    def width(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, seq: np.ndarray) -> np.ndarray:
        """Standardise one ``(n, width)`` sequence.

        Non-finite inputs (NaN/inf from a failed feature extractor) become 0, i.e. the
        training mean, so one bad value cannot poison a whole batch.
        """
        out = (np.asarray(seq, dtype=np.float32) - self.mean) / self.std
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)

    def save(self, path: Path | str) -> Path:
        """Write the scaler as a plain ``.npz`` (no pickle) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:  # file handle: np.savez would otherwise append ".npz"
            np.savez(fh, mean=self.mean, std=self.std)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Scaler:
        """Read a scaler written by :meth:`save`; raises ``ScalerError`` if unusable."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                mean = np.asarray(data["mean"], dtype=np.float32)
                std = np.asarray(data["std"], dtype=np.float32)
        except FileNotFoundError as exc:
            raise ScalerError(f"Scaler file not found: {path}") from exc
        except (KeyError, ValueError, OSError) as exc:
            raise ScalerError(f"Scaler file {path} is not a valid scaler: {exc}") from exc
        if mean.ndim != 1 or mean.shape != std.shape or mean.shape[0] not in WIDTHS:
            raise ScalerError(
                f"Scaler file {path} has shapes {mean.shape}/{std.shape}; expected two equal "
                f"1-D arrays of one of the input widths {sorted(WIDTHS)}."
            )
        return cls(mean=mean, std=np.maximum(std, STD_FLOOR))


def fit_scaler(train_sequences: Sequence[np.ndarray], width: int = N_FEATURES) -> Scaler:
    """Fit per-feature mean/std over every real segment of the training split.

    Pass only the training split: fitting on validation videos would leak their statistics.
    """
    arrays = [as_sequence(s, width=width) for s in train_sequences]
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        raise TrainingDataError("Cannot fit a scaler: no training video has any segment.")
    # Two streaming passes in float64 (mean, then squared deviations): exact enough for
    # features with large offsets, without stacking the whole catalog in memory.
    count = np.zeros(width)
    total = np.zeros(width)
    for a in arrays:
        finite = np.isfinite(a)  # NaN/inf from a failed extractor are left out
        count += finite.sum(axis=0)
        total += np.where(finite, a, 0.0).sum(axis=0, dtype=np.float64)
    seen = count > 0
    # A feature that is never finite gets mean 0 / std 1 rather than NaN.
    mean = np.where(seen, total / np.maximum(count, 1), 0.0)
    squares = np.zeros(width)
    for a in arrays:
        dev = np.where(np.isfinite(a), a.astype(np.float64) - mean, 0.0)
        squares += (dev * dev).sum(axis=0)
    std = np.where(seen, np.sqrt(squares / np.maximum(count, 1)), 1.0)
    std = np.maximum(std, STD_FLOOR)
    return Scaler(mean=mean.astype(np.float32), std=std.astype(np.float32))


def sample_indices(n_segments: int, length: int = SEQUENCE_LENGTH) -> np.ndarray:
    """Indices of the segments kept for a video of ``n_segments`` (``n_segments > length``).

    Evenly spaced over the whole video, first and last segment included, so a long video is
    summarised end to end instead of being truncated after ~7 minutes.
    """
    return np.linspace(0, n_segments - 1, length).round().astype(np.int64)


def to_fixed_length(
    seq: np.ndarray, length: int = SEQUENCE_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(array (length, F), mask (length,) bool)`` for one sequence.

    Shorter videos are zero-padded at the end (mask False there); longer ones are
    uniformly subsampled over their whole duration. Zero padding is safe because the
    network receives the mask explicitly and never looks at padded values.
    """
    arr = np.asarray(seq, dtype=np.float32)
    if arr.ndim != 2:
        raise TrainingDataError(f"Expected a 2-D (n_segments, features) array, got {arr.shape}.")
    n, n_feat = arr.shape
    out = np.zeros((length, n_feat), dtype=np.float32)
    mask = np.zeros(length, dtype=bool)
    if n > length:
        out[:] = arr[sample_indices(n, length)]
        mask[:] = True
    else:
        out[:n] = arr
        mask[:n] = True
    return out, mask


def build_arrays(
    sequences: Sequence[np.ndarray], scaler: Scaler, length: int = SEQUENCE_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Standardise, then fix the length of each sequence.

    Returns ``X`` float32 ``(N, length, scaler.width)`` and ``mask`` bool ``(N, length)``.
    Scaling happens before padding so that padded rows stay exactly zero.
    """
    X = np.zeros((len(sequences), length, scaler.width), dtype=np.float32)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for i, seq in enumerate(sequences):
        arr = as_sequence(seq, index=i, width=scaler.width)
        if len(arr):
            X[i], mask[i] = to_fixed_length(scaler.transform(arr), length)
    return X, mask


def pooled_features(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real (masked-in) segments of each video: ``(N, F)``; used by the baseline."""
    weights = mask.astype(np.float32)
    counts = np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    return np.einsum("nt,ntf->nf", weights, X) / counts


def validate_training_set(labels: Sequence[str]) -> None:
    """Raise ``TrainingDataError`` unless there are ≥ 2 genres with ≥ 2 videos each."""
    counts = Counter(labels)
    if len(counts) < 2:
        found = f"only '{next(iter(counts))}'" if counts else "none"
        raise TrainingDataError(
            f"Training needs labelled videos from at least 2 genres; found {found}. "
            "Label videos of another genre first."
        )
    too_few = sorted(g for g, c in counts.items() if c < 2)
    if too_few:
        listed = ", ".join(f"'{g}' ({counts[g]} video)" for g in too_few)
        raise TrainingDataError(
            f"Every genre needs at least 2 labelled videos (one to train on, one to validate "
            f"with); too few for: {listed}. Label more videos or remove the genre."
        )


def stratified_split(
    labels: Sequence[str], val_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-genre split; returns sorted ``(train_indices, val_indices)``.

    Each genre with ≥ 2 videos puts at least one video in each split, so every genre is
    both learned and evaluated.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}.")
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(list(labels), dtype=object)
    train: list[int] = []
    val: list[int] = []
    for genre in sorted(set(labels_arr.tolist())):
        idx = np.flatnonzero(labels_arr == genre)
        rng.shuffle(idx)
        if len(idx) < 2:
            train.extend(idx.tolist())
            continue
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(val), dtype=np.int64)


def save_labels(labels: Sequence[str], path: Path | str) -> Path:
    """Write the class order (index → genre) as a JSON list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(labels), ensure_ascii=False, indent=0), encoding="utf-8")
    return path


def load_labels(path: Path | str) -> list[str]:
    """Read a JSON label list written by :func:`save_labels`."""
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"Label file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"Label file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data) or not data:
        raise ArtifactError(f"Label file {path} must hold a non-empty JSON list of genre names.")
    return data
