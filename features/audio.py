"""The 68 audio features of a segment: pyAudioAnalysis mid-term statistics.

Definition (docs/features.md): run ``pyAudioAnalysis.MidTermFeatures.mid_feature_extraction``
on the segment's int16-scale mono samples with 0.1 s short-term window and step and 0.5 s
mid-term window and step, keep rows 0-33 (means of the 34 classic short-term features) and rows
68-101 (their standard deviations; 0.3.14 also returns 34 "delta" features, which we drop) and
average them over the segment's mid-term windows.

The library computes one short-term window at a time in Python (about 1 ms per 0.1 s of audio,
i.e. more time than decoding), so the default backend, ``"vectorized"``, recomputes exactly the
same formulas on all windows of a segment at once with numpy. It reuses the library's own MFCC
filter bank and chroma tables, reproduces its quirks (peak normalisation per call, last-write-wins
chroma mapping), and tests/features/test_audio_features.py checks it against the library to
1e-6 relative. ``backend="library"`` calls the library itself.

NumPy 2 note: pyAudioAnalysis 0.3.14 uses ``numpy.Inf`` only in ``utilities.peakdet`` (beat
tracking), which this module never calls, so no compatibility shim is needed; if a future code
path needs it, add ``numpy.Inf = numpy.inf`` in ``_library()`` below and nowhere else.
"""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Literal

import numpy as np
from scipy.fft import rfft
from scipy.fftpack import dct

from features.definitions import AUDIO_FEATURE_NAMES, N_AUDIO, SHORT_TERM_NAMES

AUDIO_RATE = 22050  # Hz; every file is decoded to mono PCM at this rate
SHORT_WINDOW_S = 0.1
MID_WINDOW_S = 0.5
# A segment whose samples never move more than this many int16 steps from their mean is treated
# as digital silence (all zeros). Why: the library scales each signal to peak 1, which would blow
# encoder noise in a silent intro (-72 dBFS and below) up into full-scale "noise music".
SILENCE_PEAK = 8

_EPS = sys.float_info.epsilon  # the eps ShortTermFeatures uses
N_SHORT = len(SHORT_TERM_NAMES)  # 34

Backend = Literal["vectorized", "library"]


class AudioFeatureError(ValueError):
    """Raised for arguments the audio feature extractor cannot work with."""


@functools.cache
def _short_term_module():  # noqa: ANN202 - module object
    """Import pyAudioAnalysis.ShortTermFeatures lazily (it pulls in matplotlib, ~0.5 s)."""
    from pyAudioAnalysis import ShortTermFeatures

    return ShortTermFeatures


@functools.cache
def _mid_term_module():  # noqa: ANN202 - module object
    with warnings.catch_warnings():
        # audioBasicIO imports pydub, which warns that it found no system ffmpeg; we never
        # use its file reader (it silently returns empty arrays for formats it cannot read).
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # pydub imports audioop
        from pyAudioAnalysis import MidTermFeatures
    return MidTermFeatures


def window_sizes(rate: int) -> tuple[int, int]:
    """(short-term window = step, mid-term window = step) in samples for a sample rate."""
    return round(SHORT_WINDOW_S * rate), round(MID_WINDOW_S * rate)


def audio_features(
    samples: np.ndarray, rate: int = AUDIO_RATE, *, backend: Backend = "vectorized"
) -> np.ndarray:
    """68 float32 features of one segment of mono int16-scale samples.

    Audio shorter than one 0.1 s window (or missing) gives 68 zeros. NaN/inf never leave this
    function: they are replaced with 0.
    """
    if rate <= 0:
        raise AudioFeatureError(f"sample rate must be positive, got {rate}")
    x = np.asarray(samples)
    if x.ndim != 1:
        raise AudioFeatureError(f"expected mono samples (1-D), got shape {x.shape}")
    short_win, mid_win = window_sizes(rate)
    if x.size < short_win:
        return np.zeros(N_AUDIO, dtype=np.float32)
    x = x.astype(np.float64)
    # max |x - mean| without a temporary: x - mean is monotone in x (also after rounding)
    mean = x.mean()
    if max(x.max() - mean, mean - x.min()) < SILENCE_PEAK:
        x = np.zeros_like(x)
    if backend == "vectorized":
        short = short_term_features(x, rate, short_win, short_win)
        mid = mid_term_statistics(short, rate, mid_win, mid_win, short_win, short_win)
        vec = mid.mean(axis=1)
    elif backend == "library":
        mid, _, _ = _mid_term_module().mid_feature_extraction(
            x, rate, mid_win, mid_win, short_win, short_win
        )
        n_all = mid.shape[0] // 2  # 68 in 0.3.14 (34 + 34 deltas)
        vec = np.concatenate([mid[:N_SHORT], mid[n_all : n_all + N_SHORT]]).mean(axis=1)
    else:
        raise AudioFeatureError(f"unknown audio backend {backend!r}")
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def library_feature_names() -> list[str]:
    """The 68 names pyAudioAnalysis gives the rows we keep (must equal AUDIO_FEATURE_NAMES)."""
    rate = 8000
    short_win, mid_win = window_sizes(rate)
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, size=rate, dtype=np.int16)
    _, _, names = _mid_term_module().mid_feature_extraction(
        x, rate, mid_win, mid_win, short_win, short_win
    )
    n_all = len(names) // 2
    return list(names[:N_SHORT]) + list(names[n_all : n_all + N_SHORT])


# --- vectorised re-implementation ------------------------------------------------------------


@functools.cache
def _spectral_tables(rate: int, num_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MFCC filter bank and chroma tables, taken from the library itself."""
    st = _short_term_module()
    fbank, _ = st.mfcc_filter_banks(rate, num_fft)
    num_chroma, freqs_per_chroma = st.chroma_features_init(num_fft, rate)
    # The library divides by freqs_per_chroma indexed by chroma number (its own quirk).
    divisor = freqs_per_chroma[num_chroma] if num_chroma.max() < num_chroma.shape[0] else None
    return fbank, num_chroma, divisor


def _block_entropy(squares: np.ndarray, n_blocks: int = 10) -> np.ndarray:
    """Entropy of the energy split over n_blocks consecutive blocks, per row (library formula).

    ``squares`` are the squared values (the callers have them already)."""
    total = np.sum(squares, axis=1)
    sub = squares.shape[1] // n_blocks
    blocks = squares[:, : sub * n_blocks].reshape(squares.shape[0], n_blocks, sub)
    s = np.sum(blocks, axis=2) / (total + _EPS)[:, None]
    return -np.sum(s * np.log2(s + _EPS), axis=1)


def short_term_features(signal: np.ndarray, rate: int, window: int, step: int) -> np.ndarray:
    """(34, n_windows) short-term features; same numbers as ShortTermFeatures.feature_extraction.

    ``signal`` is int16-scale. Like the library, it is scaled to [-1, 1], DC-removed and
    peak-normalised over the whole ``signal`` before windowing.
    """
    # In place where the library makes copies: the same values, fewer passes over the segment.
    x = np.asarray(signal, dtype=np.float64) / 2.0**15
    x -= x.mean()
    x /= max(x.max(), -x.min()) + 1e-10  # == np.abs(x).max(): negation is exact
    n = x.shape[0]
    if n < window:
        return np.zeros((N_SHORT, 0))
    count = (n - window) // step + 1
    frames = np.lib.stride_tricks.sliding_window_view(x, window)[::step][:count]
    num_fft = window // 2
    fbank, num_chroma, chroma_div = _spectral_tables(rate, num_fft)

    out = np.empty((N_SHORT, count))
    # zero crossings: |diff(sign)| summed is a small integer, so int8 signs give the same count
    signs = (frames > 0).view(np.int8) - (frames < 0).view(np.int8)
    crossings = np.abs(np.diff(signs, axis=1)).sum(axis=1, dtype=np.int64)
    out[0] = crossings / 2 / (window - 1.0)
    squares = frames**2
    out[1] = np.sum(squares, axis=1) / window
    out[2] = _block_entropy(squares)

    mag = np.abs(rfft(frames, axis=1))[:, :num_fft] / num_fft

    # centroid / spread
    ind = np.arange(1, num_fft + 1) * (rate / (2.0 * num_fft))
    peak = mag.max(axis=1)
    xt = mag / np.where(peak == 0, _EPS, peak)[:, None]
    den = xt.sum(axis=1) + _EPS
    centroid = (xt @ ind) / den
    spread = np.sqrt(np.sum((ind[None, :] - centroid[:, None]) ** 2 * xt, axis=1) / den)
    out[3] = centroid / (rate / 2.0)
    out[4] = spread / (rate / 2.0)

    power = mag**2
    out[5] = _block_entropy(power)

    # flux against the previous window (the first window is compared with itself: 0)
    norm = mag / np.sum(mag + _EPS, axis=1)[:, None]
    flux = np.zeros(count)
    flux[1:] = np.sum((norm[1:] - norm[:-1]) ** 2, axis=1)
    out[6] = flux

    # roll-off at 90% of the energy
    cumulative = np.cumsum(power, axis=1) + _EPS
    above = cumulative > (0.90 * power.sum(axis=1))[:, None]
    first = np.argmax(above, axis=1)
    out[7] = np.where(above.any(axis=1), first / float(num_fft), 0.0)

    mspec = np.log10(mag @ fbank.T + _EPS)
    out[8:21] = dct(mspec, type=2, norm="ortho", axis=-1)[:, :13].T

    out[21:34] = _chroma(mag, power, rate, num_fft, num_chroma, chroma_div).T
    return out


def _chroma(
    mag: np.ndarray,
    power: np.ndarray,
    rate: int,
    num_fft: int,
    num_chroma: np.ndarray,
    divisor: np.ndarray | None,
) -> np.ndarray:
    """(n, 13): 12 chroma values + their std, as ShortTermFeatures.chroma_features."""
    n = power.shape[0]
    if divisor is None:
        # The library's other branch (only for tiny windows); not worth vectorising.
        st = _short_term_module()
        rows = [st.chroma_features(m, rate, num_fft)[1][:, 0] for m in mag]
        chroma = np.array(rows).reshape(n, 12)
    else:
        c = np.zeros((n, num_fft))
        c[:, num_chroma] = power  # repeated indices: the last write wins, as in the library
        c /= divisor
        padded_len = int(np.ceil(num_fft / 12.0) * 12)
        padded = np.zeros((n, padded_len))
        padded[:, :num_fft] = c
        chroma = padded.reshape(n, padded_len // 12, 12).sum(axis=1)
        total = power.sum(axis=1)
        chroma /= np.where(total == 0, _EPS, total)[:, None]
    return np.concatenate([chroma, chroma.std(axis=1, keepdims=True)], axis=1)


def mid_term_statistics(
    short: np.ndarray,
    rate: int,
    mid_window: int,
    mid_step: int,
    short_window: int,
    short_step: int,
) -> np.ndarray:
    """(2 * n_features, n_mid): mean rows then std rows, as MidTermFeatures does."""
    del rate  # same signature as the library's window arithmetic; rate is implicit
    n_feats, n_short = short.shape
    ratio = round((mid_window - (short_window - short_step)) / short_step)
    step = int(round(mid_step / short_step))
    starts = range(0, n_short, step)
    mid = np.zeros((2 * n_feats, len(starts)))
    for j, start in enumerate(starts):
        block = short[:, start : min(start + ratio, n_short)]
        mid[:n_feats, j] = block.mean(axis=1)
        mid[n_feats:, j] = block.std(axis=1)
    return np.nan_to_num(mid)


__all__ = [
    "AUDIO_FEATURE_NAMES",
    "AUDIO_RATE",
    "AudioFeatureError",
    "audio_features",
    "library_feature_names",
    "mid_term_statistics",
    "short_term_features",
    "window_sizes",
]
