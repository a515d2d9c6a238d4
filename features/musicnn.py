"""MusiCNN music embeddings: a TensorFlow 2 port of the pretrained ``musicnn`` models.

MusiCNN (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music audio
tagging", 2019; PyPI ``musicnn==0.1.0``, ISC licence) maps a 3 s log-mel patch to 50 tag
probabilities. We use it as a feature extractor: per patch the 200-d penultimate layer (the
batch-normalised dense layer before the output) and the 50 sigmoid tag probabilities, averaged
per 10 s segment by :meth:`MusicnnModel.embed_segments`. docs/musicnn.md has the details.

* The forward pass is rebuilt with plain ``tf.nn`` ops in one ``tf.function`` (input
  ``[None, 187, 96]`` float32, batch norm in inference mode with the checkpoint's moving
  statistics); the weights are read by name from the wheel's TF1 checkpoint with a checkpoint
  reader, no ``tf.compat.v1`` session. The wheel itself is never imported.
* The log-mel input reproduces ``librosa.feature.melspectrogram(sr=16000, n_fft=512,
  hop_length=256, n_mels=96)`` (Hann window, reflect centre padding, power 2, Slaney mel scale
  and area norm) in NumPy, then ``log10(10000 x + 1)`` in float32.
* Defects of the original extractor NOT reproduced: the float16 cast before the log (inf for
  mel power above ~6.55), every patch getting the first patch's penultimate vector, and a bare
  ``except`` around the checkpoint restore that silently runs random weights (here:
  :class:`MusicnnCheckpointError`).

Importing this module does NOT import TensorFlow: TensorFlow is imported only inside
:meth:`MusicnnModel.load` (reached through :func:`get_model`), so the web process, which imports
``features`` but never computes embeddings, never loads it. Keep it that way: no module-level
``import tensorflow`` here or in anything this module imports.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MUSICNN_DIM = 200  # penultimate embedding size
N_TAGS = 50
SAMPLE_RATE = 16000  # Hz; audio must be mono at this rate
PATCH_SECONDS = 3.0
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3.0, sr=16000, n_fft=512, hop_length=256) + 1
PATCH_SAMPLES = int(PATCH_SECONDS * SAMPLE_RATE)  # shorter input is zero-padded to this
BATCH_SIZE = 16  # patches per forward call: bounds peak memory (~10 MB of activations a patch)
ENV_DIR = "MVSIM_MUSICNN_DIR"
DEFAULT_MODEL = "MSD_musicnn"

# Tag order of the output layer, from the wheel's musicnn/configuration.py.
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MODEL_TAGS: dict[str, tuple[str, ...]] = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}

# The checkpoint was saved with an empty file name: "<dir>/.index" and "<dir>/.data-...".
INDEX_FILE = ".index"
DATA_FILE = ".data-00000-of-00001"
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization default

# Layers in checkpoint order (tf.compat.v1.layers numbered them as the graph was built):
# batch_normalization = input BN; conv2d/_1 = timbral 7x38 and 7x67 (+ BN _1, _2);
# conv2d_2/_3/_4 = temporal 128x1, 64x1, 32x1 (+ BN _3.._5); conv2d_5/_6/_7 = mid-end 7-wide
# dense convolutions (+ BN _6.._8); BN _9 on the pooled 1506 features; dense = penultimate
# (+ BN _10); dense_1 = output logits.
_CONV_SHAPES: dict[str, tuple[int, ...]] = {
    "conv2d": (7, 38, 1, 204),
    "conv2d_1": (7, 67, 1, 204),
    "conv2d_2": (128, 1, 1, 51),
    "conv2d_3": (64, 1, 1, 51),
    "conv2d_4": (32, 1, 1, 51),
    "conv2d_5": (7, 561, 1, 64),
    "conv2d_6": (7, 64, 1, 64),
    "conv2d_7": (7, 64, 1, 64),
}
_DENSE_SHAPES: dict[str, tuple[int, int]] = {"dense": (1506, 200), "dense_1": (200, 50)}
_BN_SIZES: tuple[int, ...] = (1, 204, 204, 51, 51, 51, 64, 64, 64, 1506, 200)
# Front-end convolution -> index of the batch norm that follows it.
_FRONT_BN: dict[str, int] = {
    "conv2d": 1,
    "conv2d_1": 2,
    "conv2d_2": 3,
    "conv2d_3": 4,
    "conv2d_4": 5,
}


def _bn_name(i: int) -> str:
    return "batch_normalization" if i == 0 else f"batch_normalization_{i}"


def expected_variables() -> dict[str, tuple[int, ...]]:
    """Checkpoint variable name -> shape for every variable the forward pass reads."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, shape in {**_CONV_SHAPES, **_DENSE_SHAPES}.items():
        shapes[f"{name}/kernel"] = shape
        shapes[f"{name}/bias"] = (shape[-1],)
    for i, size in enumerate(_BN_SIZES):
        for part in ("gamma", "beta", "moving_mean", "moving_variance"):
            shapes[f"{_bn_name(i)}/{part}"] = (size,)
    return shapes


class MusicnnCheckpointError(RuntimeError):
    """The musicnn checkpoint is missing, unreadable, corrupt or lacks a variable."""


@dataclass(frozen=True)
class SegmentEmbeddings:
    """Per-segment means over complete 3 s patches (see :meth:`MusicnnModel.embed_segments`)."""

    embeddings: np.ndarray  # (n_segments, 200) float32
    tags: np.ndarray  # (n_segments, 50) float32
    padded: list[bool]  # segment shorter than 3 s, zero-padded to one patch
    n_patches: list[int]  # patches averaged per segment


def checkpoint_dir(name: str = DEFAULT_MODEL) -> Path:
    """The folder holding checkpoint ``name``: ``$MVSIM_MUSICNN_DIR/<name>`` if the variable is
    set, else ``<name>`` inside the installed ``musicnn`` package (found without importing it)."""
    _check_name(name)
    env = os.environ.get(ENV_DIR)
    if env:
        folder = Path(env) / name
        if not folder.is_dir():
            raise MusicnnCheckpointError(f"{ENV_DIR}={env} has no {name}/ folder ({folder})")
        return folder
    try:
        spec = importlib.util.find_spec("musicnn")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MusicnnCheckpointError(
            f"musicnn checkpoint {name}/ not found: {ENV_DIR} is not set and the musicnn package "
            "is not installed (pip install --no-deps musicnn==0.1.0)"
        )
    for location in locations:
        folder = Path(location) / name
        if folder.is_dir():
            return folder
    raise MusicnnCheckpointError(
        f"the installed musicnn package has no {name}/ folder in {locations}"
    )


def _check_name(name: str) -> None:
    if name not in MODEL_TAGS:
        raise ValueError(f"unknown musicnn model {name!r}; choose one of {sorted(MODEL_TAGS)}")


def read_checkpoint(directory: Path) -> dict[str, np.ndarray]:
    """Read and check every variable the forward pass needs from the checkpoint in ``directory``."""
    import tensorflow as tf

    directory = Path(directory)
    index, data = directory / INDEX_FILE, directory / DATA_FILE
    for path in (index, data):
        if not path.is_file():
            raise MusicnnCheckpointError(f"musicnn checkpoint file missing: {path}")
    # tf.train.load_checkpoint(directory) would follow the "checkpoint" file, which names the
    # authors' training machine; the prefix is "<directory>/" (the files have empty stems).
    prefix = str(directory) + os.sep
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        available = reader.get_variable_to_shape_map()
    except Exception as exc:  # TF raises several error types for a bad bundle
        raise MusicnnCheckpointError(f"cannot read musicnn checkpoint {index}: {exc}") from exc
    weights: dict[str, np.ndarray] = {}
    for var, shape in expected_variables().items():
        if var not in available:
            raise MusicnnCheckpointError(f"musicnn checkpoint {index} has no variable {var!r}")
        if tuple(available[var]) != shape:
            raise MusicnnCheckpointError(
                f"musicnn checkpoint {index}: variable {var!r} has shape "
                f"{tuple(available[var])}, expected {shape}"
            )
        try:
            value = np.asarray(reader.get_tensor(var), dtype=np.float32)
        except Exception as exc:
            raise MusicnnCheckpointError(
                f"musicnn checkpoint data file {data} is corrupt or truncated "
                f"(reading {var!r}): {exc}"
            ) from exc
        if not np.all(np.isfinite(value)):
            raise MusicnnCheckpointError(f"musicnn checkpoint {data}: {var!r} is not finite")
        weights[var] = value
    return weights


# --------------------------------------------------------------------------- log-mel (NumPy)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    return np.where(
        log_region, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27), mel
    )


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27) * (mel - 15.0)), hz)


@functools.cache
def mel_filterbank() -> np.ndarray:
    """(96, 257) float32 triangular Slaney filters with area ("slaney") normalisation, 0-8 kHz,
    as ``librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)``."""
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_points = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    edges = _mel_to_hz(mel_points)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


@functools.cache
def _hann() -> np.ndarray:
    """Periodic Hann window (scipy ``get_window("hann", 512, fftbins=True)``)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def log_mel(audio: np.ndarray, max_frames: int | None = None) -> np.ndarray:
    """(n_frames, 96) float32 ``log10(10000 mel + 1)`` of mono 16 kHz ``audio`` (at least 257
    samples), with ``n_frames = 1 + len(audio) // 256`` (librosa's centred frames), or only the
    first ``max_frames`` of them (the same values: every frame is computed on its own)."""
    y = np.asarray(audio, dtype=np.float32)
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:max_frames]
    # librosa multiplies by its float64 window and transforms in float64, then stores complex64.
    spectrum = np.fft.rfft(frames * _hann(), axis=-1).astype(np.complex64)
    power = np.square(np.abs(spectrum))
    mel = power @ mel_filterbank().T
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    y = np.asarray(audio)
    if y.ndim != 1:
        raise ValueError(f"musicnn expects mono audio as a 1-D array, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("musicnn got empty audio (0 samples); need at least one sample")
    y = y.astype(np.float32, copy=False)
    if not np.all(np.isfinite(y)):
        raise ValueError("musicnn audio contains NaN or infinite samples")
    return y


# --------------------------------------------------------------------------- model


def _build_forward(weights: dict[str, np.ndarray]) -> Callable:
    """The MusiCNN forward pass as a concrete ``tf.function``: patches -> (penultimate, tags)."""
    import tensorflow as tf

    def const(name: str) -> tf.Tensor:
        return tf.constant(weights[name])

    def bn_scale(i: int) -> np.ndarray:
        name = _bn_name(i)
        return weights[f"{name}/gamma"] / np.sqrt(weights[f"{name}/moving_variance"] + BN_EPSILON)

    def bn_params(i: int) -> tuple[tf.Tensor, tf.Tensor]:
        # Inference-mode batch norm folded to y = x * scale + shift.
        name = _bn_name(i)
        scale = bn_scale(i)
        shift = weights[f"{name}/beta"] - weights[f"{name}/moving_mean"] * scale
        return tf.constant(scale.astype(np.float32)), tf.constant(shift.astype(np.float32))

    bn = [bn_params(i) for i in range(len(_BN_SIZES))]
    kernels = {name: const(f"{name}/kernel") for name in _CONV_SHAPES}
    biases = {name: const(f"{name}/bias") for name in {**_CONV_SHAPES, **_DENSE_SHAPES}}
    # Front-end blocks take the max over frequency *before* ReLU and batch norm (see
    # freq_block). A channel whose batch-norm scale is negative needs the minimum instead, so
    # its filter and bias are negated: conv(x, -w) - b == -(conv(x, w) + b) exactly.
    signs: dict[str, tf.Tensor] = {}
    for name, i_bn in _FRONT_BN.items():
        sign = np.where(bn_scale(i_bn).astype(np.float32) < 0, np.float32(-1), np.float32(1))
        kernels[name] = tf.constant(weights[f"{name}/kernel"] * sign)
        biases[name] = tf.constant(weights[f"{name}/bias"] * sign)
        signs[name] = tf.constant(sign)
    # The mid-end 2-D convolutions span the whole feature axis: they are 1-D convolutions in time.
    for name in ("conv2d_5", "conv2d_6", "conv2d_7"):
        kernels[name] = tf.squeeze(kernels[name], axis=2)
    dense = const("dense/kernel")
    dense_out = const("dense_1/kernel")
    pad_time = [[0, 0], [3, 3], [0, 0], [0, 0]]

    def affine(x: tf.Tensor, i: int) -> tf.Tensor:
        scale, shift = bn[i]
        return x * scale + shift

    def freq_block(x: tf.Tensor, conv: str, padding: str, i_bn: int) -> tf.Tensor:
        """conv2d -> ReLU -> BN -> max over the frequency axis: (B, 187, filters).

        Computed as max -> ReLU -> BN, bit for bit the same: ReLU and x * scale + shift are
        monotone in float32 (non-decreasing for scale > 0, non-increasing for scale < 0, whose
        channels come out of the negated convolution as -min, see ``signs``), so the max can go
        first. Why: the ReLU and batch norm then run on (B, 187, filters) instead of
        (B, 187, frequencies, filters) -- the full-size element-wise passes were ~15 % of the
        forward pass. The max is a max-pool over the whole frequency axis (oneDNN, vectorised
        over filters), ~2x faster than reduce_max here.
        """
        y = tf.nn.conv2d(x, kernels[conv], 1, padding) + biases[conv]
        y = tf.nn.max_pool2d(y, [1, y.shape[2]], 1, "VALID")[:, :, 0, :]
        return affine(tf.nn.relu(y * signs[conv]), i_bn)

    def mid_block(x: tf.Tensor, conv: str, i_bn: int) -> tf.Tensor:
        padded = tf.pad(x, [[0, 0], [3, 3], [0, 0]])
        y = tf.nn.relu(tf.nn.conv1d(padded, kernels[conv], 1, "VALID") + biases[conv])
        return affine(y, i_bn)

    @tf.function(input_signature=[tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32)])
    def forward(patches: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = affine(patches[..., None], 0)  # (B, 187, 96, 1)
        timbral_input = tf.pad(x, pad_time)  # zero padding in time after the input BN
        front = tf.concat(
            [
                freq_block(timbral_input, "conv2d", "VALID", 1),  # 7 x 38
                freq_block(timbral_input, "conv2d_1", "VALID", 2),  # 7 x 67
                freq_block(x, "conv2d_2", "SAME", 3),  # 128 x 1
                freq_block(x, "conv2d_3", "SAME", 4),  # 64 x 1
                freq_block(x, "conv2d_4", "SAME", 5),  # 32 x 1
            ],
            axis=-1,
        )  # (B, 187, 561)
        mid1 = mid_block(front, "conv2d_5", 6)
        mid2 = mid_block(mid1, "conv2d_6", 7) + mid1
        mid3 = mid_block(mid2, "conv2d_7", 8) + mid2
        features = tf.concat([front, mid1, mid2, mid3], axis=-1)  # (B, 187, 753)
        # The original concatenates [max, mean] on a trailing axis and flattens: interleaved.
        pooled = tf.stack([tf.reduce_max(features, 1), tf.reduce_mean(features, 1)], axis=-1)
        pooled = affine(tf.reshape(pooled, [-1, 2 * 753]), 9)
        penultimate = affine(tf.nn.relu(pooled @ dense + biases["dense"]), 10)
        logits = penultimate @ dense_out + biases["dense_1"]
        return penultimate, tf.sigmoid(logits)

    return forward.get_concrete_function()


class MusicnnModel:
    """A loaded MusiCNN checkpoint. Use :func:`get_model` for the per-process shared instance."""

    def __init__(self, name: str, weights: dict[str, np.ndarray]) -> None:
        _check_name(name)
        self.name = name
        self.tags: tuple[str, ...] = MODEL_TAGS[name]
        self._forward = _build_forward(weights)

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, directory: Path | None = None) -> MusicnnModel:
        """Load checkpoint ``name`` from ``directory`` (the folder holding its ``.index`` and
        ``.data-00000-of-00001``; default :func:`checkpoint_dir`). Imports TensorFlow."""
        _check_name(name)
        folder = Path(directory) if directory is not None else checkpoint_dir(name)
        if not folder.is_dir():
            raise MusicnnCheckpointError(f"musicnn checkpoint folder not found: {folder}")
        return cls(name, read_checkpoint(folder))

    def warm_up(self) -> None:
        """Run silent batches of 1, 2 and 3 patches (a short segment, a 5-9 s tail, a full 10 s
        segment) through the network, so the first real calls pay neither for tracing the graph
        nor for oneDNN generating the kernels of each batch shape (~0.1 s for the first batch
        of 3 otherwise; the kernels are cached per process)."""
        for n in (1, 2, 3):
            self.embed_patches(np.zeros((n, PATCH_FRAMES, N_MELS), np.float32))

    @staticmethod
    def patches(audio: np.ndarray) -> np.ndarray:
        """(n_patches, 187, 96) float32 log-mel patches of mono 16 kHz float ``audio``:
        non-overlapping 3 s patches; a leftover shorter than a patch is dropped, and audio
        shorter than 3 s is zero-padded to one patch."""
        y = _check_audio(audio)
        if y.size < PATCH_SAMPLES:
            y = np.pad(y, (0, PATCH_SAMPLES - y.size))
        n = (1 + y.size // HOP) // PATCH_FRAMES
        # Only the frames of complete patches: a 10 s segment's last second is never used.
        mel = log_mel(y, max_frames=n * PATCH_FRAMES)
        return mel.reshape(n, PATCH_FRAMES, N_MELS)

    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings (n, 200), tags (n, 50)) float32 for log-mel ``patches`` (n, 187, 96)."""
        x = np.ascontiguousarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise ValueError(
                f"patches must have shape (n, {PATCH_FRAMES}, {N_MELS}), got {x.shape}"
            )
        embeddings = np.empty((x.shape[0], MUSICNN_DIM), np.float32)
        tags = np.empty((x.shape[0], N_TAGS), np.float32)
        for start in range(0, x.shape[0], BATCH_SIZE):
            emb, tag = self._forward(x[start : start + BATCH_SIZE])
            embeddings[start : start + BATCH_SIZE] = emb.numpy()
            tags[start : start + BATCH_SIZE] = tag.numpy()
        return embeddings, tags

    def embed_audio(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-patch (embeddings, tags) of ``audio``: ``embed_patches(patches(audio))``."""
        return self.embed_patches(self.patches(audio))

    def embed_segments(
        self, audio: np.ndarray, spans: Sequence[tuple[float, float]]
    ) -> SegmentEmbeddings:
        """Per segment ``(start_s, end_s)`` of mono 16 kHz ``audio``: the mean embedding and tag
        probabilities over the segment's complete 3 s patches (a 10 s segment: 3 patches). A
        segment shorter than 3 s is zero-padded to one patch and flagged in ``padded``."""
        y = _check_audio(audio)
        per_segment: list[np.ndarray] = []
        padded: list[bool] = []
        for start_s, end_s in spans:
            if not (0 <= start_s < end_s):
                raise ValueError(f"bad segment span ({start_s}, {end_s}): need 0 <= start < end")
            first = round(start_s * SAMPLE_RATE)
            samples = y[first : min(round(end_s * SAMPLE_RATE), y.size)]
            if samples.size == 0:
                raise ValueError(
                    f"segment ({start_s}, {end_s}) s lies beyond the audio "
                    f"({y.size / SAMPLE_RATE:.3f} s)"
                )
            padded.append(samples.size < PATCH_SAMPLES)
            per_segment.append(self.patches(samples))
        counts = [p.shape[0] for p in per_segment]
        if not counts:
            empty = np.zeros((0, MUSICNN_DIM), np.float32), np.zeros((0, N_TAGS), np.float32)
            return SegmentEmbeddings(*empty, padded=[], n_patches=[])
        embeddings, tags = self.embed_patches(np.concatenate(per_segment))
        bounds = list(itertools.pairwise(np.cumsum([0, *counts])))
        seg_emb = np.stack([embeddings[a:b].mean(axis=0) for a, b in bounds])
        seg_tags = np.stack([tags[a:b].mean(axis=0) for a, b in bounds])
        return SegmentEmbeddings(
            embeddings=seg_emb.astype(np.float32),
            tags=seg_tags.astype(np.float32),
            padded=padded,
            n_patches=counts,
        )


_models: dict[tuple[str, str | None], MusicnnModel] = {}
_models_lock = threading.Lock()


def get_model(
    name: str = DEFAULT_MODEL, root: str | os.PathLike[str] | None = None
) -> MusicnnModel:
    """The process-wide :class:`MusicnnModel` for ``name``, loaded (and TensorFlow imported) on
    the first call; thread-safe. ``root``: a folder holding ``<name>/`` (default: the
    installed wheel, see :func:`checkpoint_dir`)."""
    _check_name(name)
    key = (name, str(root) if root is not None else None)
    model = _models.get(key)
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                folder = Path(root) / name if root is not None else None
                model = _models[key] = MusicnnModel.load(name, folder)
    return model
