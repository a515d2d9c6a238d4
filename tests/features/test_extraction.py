"""extract_file: segmenting, shapes, determinism, progress, aggregation (features/extraction.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from features.definitions import AUDIO_FEATURE_NAMES
from features.extraction import (
    SegmentFeatures,
    aggregate,
    extract_file,
    music_input,
    planned_segments,
)

A = {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


def test_planned_segments_rules() -> None:
    assert planned_segments(25.0) == [(0, 10), (10, 20), (20, 25.0)]
    assert planned_segments(24.0) == [(0, 10), (10, 20)]
    assert planned_segments(3.0) == [(0, 3.0)]
    assert planned_segments(20.0) == [(0, 10), (10, 20)]
    assert planned_segments(0.0) == []
    assert planned_segments(24.0, min_last_segment=4.0)[-1] == (20, 24.0)
    assert planned_segments(7.0, segment_seconds=3.0) == [(0, 3), (3, 6)]


def test_25s_video_gives_10_10_5(extracted) -> None:
    r = extracted("tone25")
    assert [(s.index, s.start, s.end) for s in r.segments] == [
        (0, 0.0, 10.0),
        (1, 10.0, 20.0),
        (2, 20.0, 25.0),
    ]
    assert r.duration == pytest.approx(25.0, abs=0.05)
    assert r.has_audio and r.has_video and r.frames == 50
    for s in r.segments:
        assert s.audio.shape == (68,) and s.audio.dtype == np.float32
        assert s.visual.shape == (354,) and s.visual.dtype == np.float32
        assert s.vector.shape == (422,)
        assert np.all(np.isfinite(s.vector))
    assert r.matrix().shape == (3, 422)
    assert r.audio_seconds > 0 and r.visual_seconds > 0 and r.total_seconds >= r.decode_seconds


def test_24s_drops_the_4s_tail(media) -> None:
    r = extract_file(media("a24.wav"))
    assert [(s.start, s.end) for s in r.segments] == [(0.0, 10.0), (10.0, 20.0)]
    assert r.duration == pytest.approx(24.0, abs=0.05)


def test_short_clip_gives_one_segment(extracted) -> None:
    r = extracted("tone3")
    assert len(r.segments) == 1
    assert r.segments[0].end == pytest.approx(3.0, abs=0.05)


def test_segment_parameters(media) -> None:
    r = extract_file(media("long12"), segment_seconds=5.0, min_last_segment=2.0, fps=1.0, width=64)
    assert [(s.start, s.end) for s in r.segments] == [(0, 5), (5, 10), (10, 12)]
    assert r.frames == 12


def test_tone_is_stable_across_segments(extracted) -> None:
    audio = np.stack([s.audio for s in extracted("tone25").segments])
    centroid = audio[:, A["spectral_centroid_mean"]]
    assert centroid.mean() == pytest.approx(440 / 11025, rel=0.2)
    assert centroid.std() < 0.01 * centroid.mean()
    mfcc = audio[:, A["mfcc_1_mean"] : A["mfcc_13_mean"] + 1]
    # every coefficient varies by < 1% of the size of mfcc_1 (about -39 here)
    assert mfcc.std(axis=0).max() < 0.01 * abs(mfcc[:, 0].mean())


def test_silent_audio_track(extracted) -> None:
    r = extracted("silent")
    assert r.has_audio  # the stream exists, it is just silent
    for s in r.segments:
        assert np.all(np.isfinite(s.audio))
        assert abs(s.audio[A["energy_mean"]]) < 1e-6
        assert abs(s.audio[A["zcr_mean"]]) < 1e-6


def test_same_file_twice_is_identical(media, extracted) -> None:
    first = extracted("tone25").matrix()
    again = extract_file(media("tone25")).matrix()
    np.testing.assert_array_equal(first, again)


def test_progress_reports_each_segment(media) -> None:
    calls: list[tuple[int, int]] = []
    extract_file(
        media("tone25"), progress=lambda done, total: calls.append((done, total)), width=64
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_aggregate_mean_and_std() -> None:
    segs = [
        SegmentFeatures(
            i,
            10.0 * i,
            10.0 * (i + 1),
            np.full(68, i, dtype=np.float32),
            np.full(354, 2 * i, dtype=np.float32),
        )
        for i in range(3)
    ]
    audio, visual = aggregate(segs)
    assert audio.shape == (68,) and visual.shape == (354,)
    assert np.all(audio == 1.0) and np.all(visual == 2.0)
    audio_std, _ = aggregate(segs, "std")
    assert audio_std[0] == pytest.approx(np.std([0, 1, 2]))
    with pytest.raises(ValueError, match="zero segments"):
        aggregate([])
    with pytest.raises(ValueError, match="unknown aggregate"):
        aggregate(segs, "median")


def test_invalid_arguments(media) -> None:
    with pytest.raises(ValueError):
        extract_file(media("tone3"), segment_seconds=0)
    with pytest.raises(ValueError):
        extract_file(media("tone3"), min_last_segment=20)


@pytest.mark.parametrize("n", [7, 2205, 220500, 220499])
def test_music_input_equals_plain_resample_poly(n: int) -> None:
    """The cached resampling filter is the one resample_poly designs itself: same bits."""
    samples = np.random.default_rng(n).integers(-30000, 30000, n).astype(np.int16)
    expected = resample_poly(samples / 32768.0, 320, 441).astype(np.float32)
    np.testing.assert_array_equal(music_input(samples), expected)
