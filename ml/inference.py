"""Load a trained model once per process and encode videos in batches.

Importing this module is cheap; TensorFlow is imported by :meth:`LoadedModel.load`.
Typical use (one cached instance per worker process)::

    model = LoadedModel.load(model_path, scaler_path, labels_path)
    codes, probs = model.encode([seq_a, seq_b])      # (2, 40) float32, (2, n_genres)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.dataset import (
    SEQUENCE_LENGTH,
    ArtifactError,
    Scaler,
    as_sequence,
    build_arrays,
    load_labels,
)

DEFAULT_BATCH_SIZE = 256


class EncodingError(ValueError):
    """A sequence cannot be encoded (e.g. it has no segments or the wrong feature count)."""


@dataclass(frozen=True)
class GenrePrediction:
    genre: str
    probability: float
    probabilities: dict[str, float]


class LoadedModel:
    """A trained encoder + classifier with its scaler and genre labels.

    Immutable after loading; :meth:`encode` may be called from several threads (calls are
    serialised by a lock because Keras' compiled predict function is built lazily).
    """

    def __init__(
        self, encoder: Any, scaler: Scaler, labels: list[str], source: Path, code_dim: int
    ) -> None:
        self._encoder = encoder
        self.scaler = scaler
        self.labels = labels
        self.source = source
        self.code_dim = code_dim
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, model_path: Path | str, scaler_path: Path | str, labels_path: Path | str
    ) -> LoadedModel:
        """Load artifacts written by ``train_composite``.

        Raises ``ArtifactError`` (or its subclass ``ScalerError``) when a file is missing,
        unreadable, or the three files do not belong together.
        """
        model_path = Path(model_path)
        scaler = Scaler.load(scaler_path)
        labels = load_labels(labels_path)
        if not model_path.is_file():
            raise ArtifactError(f"Model file not found: {model_path}")

        from ml import network

        try:
            model = network.keras.models.load_model(model_path, compile=False)
        except Exception as exc:  # Keras raises a zoo of types for a corrupt archive
            raise ArtifactError(f"Could not load model {model_path}: {exc}") from exc
        try:
            encoder = network.encoder_model(model)
        except network.NetworkError as exc:
            raise ArtifactError(str(exc)) from exc
        n_out = int(encoder.output[network.GENRE].shape[-1])
        if n_out != len(labels):
            raise ArtifactError(
                f"Model {model_path} predicts {n_out} genres but {labels_path} lists "
                f"{len(labels)}; the files come from different trainings."
            )
        width = int(model.get_layer(network.INPUT_SEQUENCE).output.shape[-1])
        if width != scaler.width:
            raise ArtifactError(
                f"Model {model_path} reads {width} values per segment but {scaler_path} "
                f"scales {scaler.width}; the files come from different trainings."
            )
        code_dim = int(encoder.output[network.CODE].shape[-1])
        return cls(encoder, scaler, labels, model_path, code_dim)

    def encode(
        self, sequences: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(codes (N, code_dim) float32, probabilities (N, n_genres) float32)``.

        Each sequence is a raw ``(n_segments, width)`` array (unscaled; width: the model's
        inputs, e.g. 422 features or 200 music dimensions); scaling,
        padding/subsampling to 44 segments and masking happen here. Raises
        ``EncodingError`` for a sequence with no segments or a wrong feature count.
        """
        n_genres = len(self.labels)
        if len(sequences) == 0:
            return (np.zeros((0, self.code_dim), np.float32), np.zeros((0, n_genres), np.float32))
        arrays = []
        for i, seq in enumerate(sequences):
            try:
                arr = as_sequence(seq, index=i, width=self.scaler.width)
            except ValueError as exc:
                raise EncodingError(str(exc)) from exc
            if len(arr) == 0:
                raise EncodingError(f"video #{i} has no feature segments; extract features first.")
            arrays.append(arr)

        codes: list[np.ndarray] = []
        probs: list[np.ndarray] = []
        for start in range(0, len(arrays), batch_size):
            X, mask = build_arrays(arrays[start : start + batch_size], self.scaler, SEQUENCE_LENGTH)
            with self._lock:
                out = self._encoder.predict_on_batch({"sequence": X, "mask": mask})
            codes.append(np.asarray(out["code"], dtype=np.float32))
            probs.append(np.asarray(out["genre"], dtype=np.float32))
        return np.concatenate(codes), np.concatenate(probs)

    def warm_up(self) -> None:
        """Build the compiled predict function now (the first call costs ~1 s), so the first
        real video does not pay for it."""
        self.encode([np.zeros((1, self.scaler.mean.shape[-1]), dtype=np.float32)])

    def predict_genre(self, sequences: Sequence[np.ndarray]) -> list[GenrePrediction]:
        """Most likely genre (with all probabilities) for each sequence."""
        _, probs = self.encode(sequences)
        out = []
        for row in probs:
            best = int(row.argmax())
            out.append(
                GenrePrediction(
                    genre=self.labels[best],
                    probability=float(row[best]),
                    probabilities={g: float(p) for g, p in zip(self.labels, row, strict=True)},
                )
            )
        return out


_cache: dict[tuple[str, ...], LoadedModel] = {}
_cache_lock = threading.Lock()


def load_cached(
    model_path: Path | str, scaler_path: Path | str, labels_path: Path | str
) -> LoadedModel:
    """Per-process memo of :meth:`LoadedModel.load`, keyed by the three resolved paths.

    Idempotent and safe under concurrent first calls (the lock makes one thread load while
    the others wait). Artifacts are immutable per model version, so no invalidation is done;
    call :func:`clear_cache` after deleting a version.
    """
    key = tuple(str(Path(p).resolve()) for p in (model_path, scaler_path, labels_path))
    return cached(key, lambda: LoadedModel.load(*key))


def cached(key: tuple[str, ...], load: Callable[[], LoadedModel]) -> LoadedModel:
    """Per-process memo of ``load()`` under ``key`` (what the artifacts are, e.g. their paths,
    or a storage and their names when ``load`` fetches copies that are deleted afterwards)."""
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load()
        return _cache[key]


def clear_cache() -> None:
    """Forget every cached model (tests, or after a model version is deleted)."""
    with _cache_lock:
        _cache.clear()
