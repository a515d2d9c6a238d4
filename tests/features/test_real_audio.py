"""Real music (GTZAN-style 30 s clips, 8 kHz mono WAV): features separate classical from metal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.audio import AUDIO_RATE, audio_features
from features.extraction import aggregate, extract_file
from features.media import SegmentReader, probe

DATA = Path("/work/shared/data/real-audio")
PER_GENRE = 6

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real audio clips not available in {DATA}"),
]


def _clips(genre: str) -> list[Path]:
    return sorted((DATA / genre).glob("*.wav"))[:PER_GENRE]


def test_vectorized_matches_library_on_real_music() -> None:
    clip = _clips("metal")[0]
    with SegmentReader(probe(clip)) as reader:
        segment = next(iter(reader))
    assert segment.audio.size == 10 * AUDIO_RATE
    fast = audio_features(segment.audio).astype(np.float64)
    lib = audio_features(segment.audio, backend="library").astype(np.float64)
    np.testing.assert_allclose(fast, lib, rtol=1e-4, atol=1e-7)
    assert np.count_nonzero(lib) > 60


def test_nearest_centroid_separates_classical_and_metal() -> None:
    rows, labels = [], []
    for label, genre in enumerate(("classical", "metal")):
        clips = _clips(genre)
        assert len(clips) == PER_GENRE
        for clip in clips:
            result = extract_file(clip)
            assert not result.has_video and len(result.segments) == 3
            rows.append(aggregate(result.segments)[0])
            labels.append(label)
    x, y = np.array(rows, dtype=np.float64), np.array(labels)

    correct = 0
    for i in range(len(y)):  # leave-one-out; standardise with the training clips only
        train = np.arange(len(y)) != i
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
        z = (x - mu) / sd
        centroids = [z[train & (y == c)].mean(axis=0) for c in (0, 1)]
        predicted = int(np.argmin([np.linalg.norm(z[i] - c) for c in centroids]))
        correct += predicted == y[i]
    accuracy = correct / len(y)
    print(f"leave-one-out nearest-centroid accuracy: {accuracy:.2f}")
    assert accuracy >= 0.8, f"leave-one-out accuracy {accuracy:.2f}"
