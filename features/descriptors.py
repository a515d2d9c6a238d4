"""Spotify-style track descriptors (tempo, loudness, energy, danceability) from our own analysis.

Spotify answers HTTP 403 to ``/audio-features`` for new apps, so the catalog measures these
itself. ``describe_audio(path)`` decodes the first audio stream **once** with the imageio-ffmpeg
binary (mono, 11025 Hz, s16le on a pipe, read in fixed 30 s blocks so memory stays bounded; at
most ``max_seconds`` are analysed) and computes everything from per-frame values of one
short-time spectrum. The exact formulas are in ``docs/features.md`` ("Track descriptors from
our analysis") and next to each step below. Deterministic: no randomness, fixed block sizes.
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import find_peaks

from features.media import (
    AUDIO_FILTER,
    DecodeError,
    DecodeTimeout,
    ffmpeg_exe,
    ffmpeg_input,
    probe,
    start_decoder,
)

RATE = 11025  # Hz: onsets and loudness need no more, and it keeps the FFTs small
N_FFT = 1024  # 93 ms frames: fine enough in frequency for bass-drum bands
HOP = 128  # 11.6 ms hop: 86.13 envelope frames per second
FPS = RATE / HOP
BLOCK_SAMPLES = 30 * RATE  # decoded samples processed per step (fixed: results never depend
# on how the pipe happens to deliver bytes)

MIN_BPM, MAX_BPM, PRIOR_BPM = 60.0, 200.0, 120.0
PRIOR_OCTAVES = 1.0  # std of the log-normal tempo prior: mild, only settles octave ties
COMB_MULTIPLES = 4  # a beat period T also repeats at 2T, 3T, 4T
GATE_AC = 0.1  # autocorrelation a period needs itself to count fully
BPM_STEP = 0.05  # tempo grid resolution
SMOOTH_FRAMES = 2.0  # std (frames) of the Gaussian smoothing of the onset envelope
DETREND_SECONDS = 1.5  # moving average removed from the envelope (slow swells are no beats)
WINDOW_SECONDS, WINDOW_STEP_SECONDS = 8.0, 4.0  # local windows for tempo regularity
REGULAR_TOLERANCE = 0.04  # a window agrees with the global tempo within ±4 %
FLAT_FLUX = 2e-3  # envelope std below which a band group has no onsets at all
MIN_CONFIDENCE = 0.1  # below this pulse clarity the best period is chance: no tempo
MIN_TEMPO_SECONDS = 3.0  # shorter audio (or a flat envelope) has no tempo

SILENCE_DB = -60.0  # loudness floor, like Spotify's -60..0 dB scale
HF_HZ = 1500.0  # "bright" share of the spectrum: power above 1.5 kHz
ENERGY_MID_DB, ENERGY_SLOPE_DB = -20.0, 4.0  # loudness logistic: -20 dBFS -> 0.5

N_BANDS, BAND_LOW_HZ, BAND_HIGH_HZ = 40, 40.0, 5000.0  # mel bands of the onset flux
BASS_HZ = 250.0  # bands centred below: the bass-drum envelope, weighted like all the rest
_LOG_GAIN = 100.0  # log1p(gain * band magnitude): compress before the flux
_HF_BIN = int(round(HF_HZ * N_FFT / RATE))
_WINDOW = np.hanning(N_FFT + 2)[1:-1].astype(np.float32)  # no zero end points


def _mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_filters() -> np.ndarray:
    """(N_BANDS, bins) triangular filters, equally spaced in mel, each summing to 1. Equal
    weight per band means the bass drum counts as much as the cymbals, unlike linear bins."""
    edges_mel = np.linspace(_mel(np.array(BAND_LOW_HZ)), _mel(np.array(BAND_HIGH_HZ)), N_BANDS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.arange(N_FFT // 2 + 1) * RATE / N_FFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return (tri / tri.sum(axis=1, keepdims=True)).astype(np.float32)


_FILTERS = _mel_filters()
_BASS_BANDS = int(np.searchsorted(_FILTERS.argmax(axis=1) * RATE / N_FFT, BASS_HZ))


@dataclass(frozen=True)
class AudioDescriptors:
    """What ``describe_audio`` measured. ``tempo`` is None when there is no measurable pulse
    (silence, a steady sound, a pulse clarity under ``MIN_CONFIDENCE``, or under
    ``MIN_TEMPO_SECONDS`` of audio)."""

    tempo: float | None  # BPM, MIN_BPM..MAX_BPM
    tempo_confidence: float  # 0..1, the pulse clarity at the reported period
    loudness: float  # dBFS of the RMS, SILENCE_DB..0
    energy: float  # 0..1
    danceability: float  # 0..1
    seconds: float  # length analysed
    brightness: float  # share of spectral power above HF_HZ, 0..1
    onset_rate: float  # onsets per second (peaks of the onset envelope)

    def metadata_values(self) -> dict[str, float]:
        """The TrackMetadata fields this analysis provides (a None tempo is left out)."""
        values = {
            "loudness": self.loudness,
            "energy": self.energy,
            "danceability": self.danceability,
        }
        if self.tempo is not None:
            values["tempo"] = self.tempo
        return values


@dataclass
class _Frames:
    """Per-frame values accumulated over the blocks of one decode."""

    flux: list[np.ndarray]
    power: float = 0.0  # sum of |X|^2 over all frames and bins
    hf_power: float = 0.0  # ... above HF_HZ
    square_sum: float = 0.0  # sum of x^2 over all samples (x in [-1, 1))
    samples: int = 0
    prev_log: np.ndarray | None = None
    tail: np.ndarray | None = None  # samples not yet covered by a whole frame

    def add(self, pcm: np.ndarray) -> None:
        x = pcm.astype(np.float32) / 32768.0
        wide = x.astype(np.float64)  # float32 sums of millions of squares drift
        self.square_sum += float(np.dot(wide, wide))
        self.samples += x.size
        if self.tail is not None:
            x = np.concatenate([self.tail, x])
        n = 0 if x.size < N_FFT else 1 + (x.size - N_FFT) // HOP
        self.tail = x[n * HOP :]
        if n == 0:
            return
        frames = sliding_window_view(x, N_FFT)[::HOP][:n] * _WINDOW
        spec = np.abs(scipy.fft.rfft(frames, axis=1, workers=1))
        power = spec * spec
        self.power += float(power.sum(dtype=np.float64))
        self.hf_power += float(power[:, _HF_BIN:].sum(dtype=np.float64))
        # Spectral flux: mean positive change of the log-compressed magnitude per mel band.
        log = np.log1p(_LOG_GAIN * (spec @ _FILTERS.T))
        prev = log[:1] if self.prev_log is None else self.prev_log
        diff = np.diff(log, axis=0, prepend=prev)
        rise = np.maximum(diff, 0.0)
        self.flux.append(
            np.stack([rise[:, :_BASS_BANDS].mean(axis=1), rise[:, _BASS_BANDS:].mean(axis=1)], 1)
        )
        self.prev_log = log[-1:]


def _decode(
    path: str | os.PathLike[str], audio_stream: int, max_seconds: float, timeout: float
) -> _Frames:
    cmd = [
        ffmpeg_exe(),
        *"-nostdin -hide_banner -loglevel error -threads 1".split(),
        *("-i", ffmpeg_input(path), "-map", f"0:{audio_stream}", "-vn", "-sn", "-dn"),
        *("-t", f"{max_seconds:g}", *AUDIO_FILTER, "-ac", "1", "-ar", str(RATE)),
        *"-f s16le -c:a pcm_s16le pipe:1".split(),
    ]
    acc = _Frames(flux=[])
    proc = start_decoder(cmd, stderr=subprocess.PIPE)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    # stderr is drained by a thread so a chatty ffmpeg cannot block on a full pipe.
    err_chunks: list[bytes] = []
    err_thread = threading.Thread(
        target=lambda: err_chunks.append(proc.stderr.read()),
        daemon=True,  # type: ignore[union-attr]
    )
    err_thread.start()
    try:
        assert proc.stdout is not None
        buf = bytearray(BLOCK_SAMPLES * 2)
        view = memoryview(buf)
        while True:
            got = 0
            while got < len(buf):
                n = proc.stdout.readinto(view[got:])
                if not n:
                    break
                got += n
            if got >= 2:
                acc.add(np.frombuffer(buf, dtype="<i2", count=got // 2).copy())
            if got < len(buf):
                break
        rc = proc.wait(timeout=30)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        err_thread.join(timeout=5)
    if timed_out.is_set():
        raise DecodeTimeout(f"decoding the audio took longer than {timeout:.0f} s")
    if rc != 0 and acc.samples == 0:
        lines = b"".join(err_chunks).decode("utf-8", errors="replace").strip().splitlines()
        raise DecodeError(f"could not decode the audio: {lines[-1] if lines else f'rc {rc}'}")
    return acc


# --- descriptors from the accumulated frames -------------------------------------------------


def loudness_db(square_sum: float, samples: int) -> float:
    """20·log10(RMS) relative to full scale (a full-scale sine is -3 dB), clipped to -60..0."""
    if samples == 0 or square_sum <= 0.0:
        return SILENCE_DB
    db = 10.0 * math.log10(square_sum / samples)
    return float(min(0.0, max(SILENCE_DB, db)))


def _onset_envelope(flux: np.ndarray) -> np.ndarray:
    """One onset-strength value per frame from the (frames, 2) bass / rest flux.

    Each column is smoothed (Gaussian, 2 frames), has its 1.5 s moving average removed (slow
    swells are no beats) and is divided by its standard deviation, then the two are added:
    a quiet kick drum weighs as much as loud hi-hats and synths (this settles the 2:3
    confusions of syncopated techno). A column whose standard deviation is below
    ``FLAT_FLUX`` (a steady tone, hum, digital silence: music is above 8e-3) adds nothing,
    otherwise standardising would blow its numerical ripple up into a fake pulse.
    """
    size = max(1, int(round(DETREND_SECONDS * FPS)))
    env = np.zeros(flux.shape[0])
    for column in flux.T:
        smooth = gaussian_filter1d(column.astype(np.float64), SMOOTH_FRAMES, mode="nearest")
        part = smooth - uniform_filter1d(smooth, size, mode="nearest")
        std = part.std()
        if std > FLAT_FLUX:
            env += part / std
    return env


def _autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Biased autocorrelation r[0..max_lag] of the mean-removed x, normalised to r[0] = 1."""
    x = x - x.mean()
    n = x.size
    size = scipy.fft.next_fast_len(n + max_lag + 1)
    spec = scipy.fft.rfft(x, size)
    ac = scipy.fft.irfft(spec * np.conj(spec), size)[: max_lag + 1]
    if ac[0] <= 1e-12:
        return np.zeros(max_lag + 1)
    if ac.size < max_lag + 1:
        ac = np.pad(ac, (0, max_lag + 1 - ac.size))
    return ac / ac[0]


_BPM_GRID = np.arange(MIN_BPM, MAX_BPM + BPM_STEP / 2, BPM_STEP)
_PERIODS = 60.0 * FPS / _BPM_GRID  # in envelope frames (fractional)
_PRIOR = np.exp(-0.5 * (np.log2(_BPM_GRID / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
_MAX_LAG = int(math.ceil(COMB_MULTIPLES * _PERIODS.max())) + 2


def _at(ac: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """ac at fractional lags, linearly interpolated."""
    return np.interp(lags, np.arange(ac.size), ac)


def _tempo_scores(ac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score, comb) per grid tempo. comb(T) = mean of max(ac, 0) at T, 2T, 3T, 4T: a beat
    period repeats at its multiples, which a chance peak does not. score = comb · gate · prior,
    where gate = clip(ac(T) / 0.1, 0.05, 1) demotes periods that only their multiples support
    (a breakbeat's half bar) and the prior settles octave ties."""
    k = np.arange(1, COMB_MULTIPLES + 1)[:, None]
    at = _at(ac, k * _PERIODS[None, :])
    comb = np.maximum(at, 0.0).mean(axis=0)
    gate = np.clip(at[0] / GATE_AC, 0.05, 1.0)
    return comb * gate * _PRIOR, comb


def _regularity(env: np.ndarray, period: float) -> float:
    """Share of 8 s windows (4 s apart) whose own beat period, searched within -20 %..+25 % of
    the global one (so no octave jumps), agrees with it within ±4 %. Windows without onsets
    (variance under 10 % of the whole envelope's: a silent intro, a break) are not counted."""
    width, step = int(round(WINDOW_SECONDS * FPS)), int(round(WINDOW_STEP_SECONDS * FPS))
    if env.size < width:
        return 1.0  # one window at most: the global estimate is the local one
    lags = np.arange(int(period * 0.8), int(math.ceil(period * 1.25)) + 1)
    quiet = 0.1 * env.var()
    agree = total = 0
    for start in range(0, env.size - width + 1, step):
        window = env[start : start + width]
        if window.var() <= quiet:
            continue
        ac = _autocorrelation(window, int(lags[-1]) + 1)
        # parabolic refinement of the local peak so a fractional period can agree
        i = int(np.argmax(ac[lags]))
        best = float(lags[i])
        if 0 < i < lags.size - 1:
            a, b, c = ac[lags[i] - 1], ac[lags[i]], ac[lags[i] + 1]
            denom = a - 2 * b + c
            if denom < 0:
                best += 0.5 * (a - c) / denom
        total += 1
        agree += abs(best - period) <= REGULAR_TOLERANCE * period
    return agree / total if total else 0.0


def _onset_rate(env: np.ndarray, seconds: float) -> float:
    """Onsets per second: local maxima of the envelope above its mean + 1 std, ≥ 50 ms apart."""
    if seconds <= 0 or env.size < 3 or env.std() == 0:
        return 0.0
    peaks, _ = find_peaks(env, height=env.mean() + env.std(), distance=max(1, int(0.05 * FPS)))
    return peaks.size / seconds


def energy_from(loudness: float, brightness: float, onset_rate: float) -> float:
    """0..1: level · (0.4 + 0.6 · activity).

    level = logistic((loudness + 20 dB) / 4 dB): -20 dBFS -> 0.5, -8 -> 0.95, -32 -> 0.05,
    and 0 at the -60 dB floor. activity = ½ · min(1, brightness / 0.3) + ½ · min(1, onsets
    per second / 4): distorted guitars, cymbals and dense drumming are "active", a quiet
    string quartet is not. So quiet sparse music stays low and loud dense music goes high.
    """
    if loudness <= SILENCE_DB:
        return 0.0
    level = 1.0 / (1.0 + math.exp(-(loudness - ENERGY_MID_DB) / ENERGY_SLOPE_DB))
    activity = 0.5 * min(1.0, brightness / 0.3) + 0.5 * min(1.0, onset_rate / 4.0)
    return level * (0.4 + 0.6 * activity)


def descriptors_from_frames(acc: _Frames) -> AudioDescriptors:
    seconds = acc.samples / RATE
    loudness = loudness_db(acc.square_sum, acc.samples)
    brightness = acc.hf_power / acc.power if acc.power > 0 else 0.0
    flux = np.concatenate(acc.flux) if acc.flux else np.zeros((0, 2))
    env = _onset_envelope(flux)
    onset_rate = _onset_rate(env, seconds)

    tempo: float | None = None
    clarity = regularity = 0.0
    if seconds >= MIN_TEMPO_SECONDS and env.size and env.std() > 0.0:
        ac = _autocorrelation(env, _MAX_LAG)
        score, comb = _tempo_scores(ac)
        best = int(np.argmax(score))
        if score[best] > 0:
            clarity = float(min(1.0, comb[best]))
            regularity = _regularity(env, float(_PERIODS[best]))
            if clarity >= MIN_CONFIDENCE:
                tempo = float(round(_BPM_GRID[best], 2))

    energy = energy_from(loudness, brightness, onset_rate)
    # sqrt spreads typical pulse clarities (0.1..0.8) over a Spotify-like 0.3..0.9
    danceability = math.sqrt(clarity) * regularity
    return AudioDescriptors(
        tempo=tempo,
        tempo_confidence=round(clarity, 4),
        loudness=round(loudness, 2),
        energy=round(float(energy), 4),
        danceability=round(float(danceability), 4),
        seconds=round(seconds, 3),
        brightness=round(float(brightness), 4),
        onset_rate=round(float(onset_rate), 3),
    )


def describe_audio(
    path: str | os.PathLike[str], *, max_seconds: float = 900.0, timeout: float | None = None
) -> AudioDescriptors | None:
    """Descriptors of the first ``max_seconds`` of the file's first audio stream.

    Returns None when the file has no audio stream or it decodes to no samples. Raises
    ``features.media.MediaError`` subclasses for unreadable files and decoder failures.
    """
    info = probe(path)
    if not info.has_audio:
        return None
    assert info.audio_stream is not None
    if timeout is None:
        timeout = 60.0 + min(max_seconds, info.duration or max_seconds)
    acc = _decode(info.path, info.audio_stream, max_seconds, timeout)
    if acc.samples == 0:
        return None
    return descriptors_from_frames(acc)


__all__ = ["AudioDescriptors", "describe_audio", "energy_from", "loudness_db"]
