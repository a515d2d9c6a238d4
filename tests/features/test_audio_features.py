"""Audio features: names, agreement with pyAudioAnalysis, silence, tones (features/audio.py)."""

from __future__ import annotations

import numpy as np
import pytest

from features.audio import (
    AUDIO_RATE,
    AudioFeatureError,
    audio_features,
    library_feature_names,
)
from features.definitions import AUDIO_FEATURE_NAMES

IDX = {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


def _tone(hz: float, seconds: float, rate: int = AUDIO_RATE, noise: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(7)
    x = 8000 * np.sin(2 * np.pi * hz * t) + noise * rng.standard_normal(t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def _music_like(seconds: float, rate: int) -> np.ndarray:
    """Chords changing every 0.7 s, with a decaying envelope and noise: exercises every feature."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(3)
    x = np.zeros_like(t)
    for k, start in enumerate(np.arange(0, seconds, 0.7)):
        on = (t >= start) & (t < start + 0.7)
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.exp(-3 * (t[on] - start))
        for h in (1, 2, 3, 5):
            x[on] += env * np.sin(2 * np.pi * f0 * h * t[on] + k) / h
    x = 6000 * x + 300 * rng.standard_normal(t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def test_names_are_the_librarys() -> None:
    assert len(AUDIO_FEATURE_NAMES) == 68
    assert library_feature_names() == list(AUDIO_FEATURE_NAMES)
    assert AUDIO_FEATURE_NAMES[0] == "zcr_mean" and AUDIO_FEATURE_NAMES[-1] == "chroma_std_std"


@pytest.mark.parametrize("rate", [AUDIO_RATE, 8000])
def test_vectorized_equals_library(rate: int) -> None:
    x = _music_like(10.0, rate)
    fast = audio_features(x, rate).astype(np.float64)
    lib = audio_features(x, rate, backend="library").astype(np.float64)
    assert np.all(np.isfinite(fast))
    # float32 outputs; the float64 internals agree to ~1e-12
    np.testing.assert_allclose(fast, lib, rtol=1e-5, atol=1e-7)
    assert np.count_nonzero(lib) > 60  # the comparison is not vacuous


def test_partial_last_window_and_odd_length_match_library() -> None:
    x = _music_like(5.37, AUDIO_RATE)  # not a multiple of the 0.1 s / 0.5 s windows
    np.testing.assert_allclose(
        audio_features(x), audio_features(x, backend="library"), rtol=1e-5, atol=1e-7
    )


def test_digital_silence_is_finite_and_zero_energy() -> None:
    vec = audio_features(np.zeros(AUDIO_RATE * 10, dtype=np.int16))
    assert vec.shape == (68,) and vec.dtype == np.float32
    assert np.all(np.isfinite(vec))
    assert vec[IDX["energy_mean"]] == 0.0 and vec[IDX["zcr_mean"]] == 0.0
    assert vec[IDX["spectral_centroid_mean"]] == 0.0


def test_near_silence_is_gated_not_amplified() -> None:
    # +-2 LSB dither would be peak-normalised to full-scale noise by the library
    rng = np.random.default_rng(0)
    dither = rng.integers(-2, 3, size=AUDIO_RATE * 5).astype(np.int16)
    np.testing.assert_array_equal(audio_features(dither), audio_features(np.zeros_like(dither)))


def test_nan_input_never_leaks() -> None:
    x = _tone(440, 2.0).astype(np.float64)
    x[100] = np.nan
    vec = audio_features(x)
    assert np.all(np.isfinite(vec))


def test_too_short_gives_zeros_and_bad_shapes_raise() -> None:
    assert not audio_features(np.ones(100, dtype=np.int16) * 1000).any()
    with pytest.raises(AudioFeatureError, match="mono"):
        audio_features(np.zeros((2, 1000), dtype=np.int16))
    with pytest.raises(AudioFeatureError, match="backend"):
        audio_features(_tone(440, 1.0), backend="nope")  # type: ignore[arg-type]


def test_pitch_moves_centroid_and_chroma() -> None:
    low, high = audio_features(_tone(440, 3.0)), audio_features(_tone(1760, 3.0))
    c = IDX["spectral_centroid_mean"]
    assert low[c] == pytest.approx(440 / (AUDIO_RATE / 2), rel=0.15)
    assert high[c] > 3 * low[c]
    r = IDX["spectral_rolloff_mean"]
    assert high[r] > 3 * low[r]
