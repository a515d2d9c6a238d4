"""catalog.metadata: our analysis fills TrackMetadata only where Spotify/import/demo did not."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from catalog.metadata import analysis_needed, fill_from_analysis
from catalog.models import TrackMetadata
from features.descriptors import AudioDescriptors
from pipeline.steps import analyse_track
from tests.factories import TrackMetadataFactory, VideoFactory

pytestmark = pytest.mark.django_db

FOUR = ["tempo", "loudness", "energy", "danceability"]


def measured(tempo: float | None = 126.0, **overrides: float) -> dict[str, float]:
    values = {
        "tempo": tempo,
        "tempo_confidence": 0.8,
        "loudness": -9.5,
        "energy": 0.7,
        "danceability": 0.8,
        "seconds": 60.0,
        "brightness": 0.2,
        "onset_rate": 3.0,
    }
    values.update(overrides)
    return AudioDescriptors(**values).metadata_values()


def test_creates_metadata_and_marks_every_value_as_analysis() -> None:
    video = VideoFactory()
    assert fill_from_analysis(video, measured()) == FOUR
    metadata = TrackMetadata.objects.get(video=video)
    assert (metadata.tempo, metadata.loudness, metadata.energy, metadata.danceability) == (
        126.0,
        -9.5,
        0.7,
        0.8,
    )
    assert metadata.sources == dict.fromkeys(FOUR, "analysis")


def test_keeps_spotify_import_and_demo_values_and_fills_the_empty_one() -> None:
    metadata = TrackMetadataFactory(
        tempo=120.0,
        energy=0.5,
        danceability=0.4,
        loudness=None,
        valence=0.3,
        spotify_id="sp1",
        sources={"tempo": "spotify", "energy": "import", "danceability": "demo"},
    )
    assert fill_from_analysis(metadata.video, measured()) == ["loudness"]
    metadata.refresh_from_db()
    assert (metadata.tempo, metadata.energy, metadata.danceability) == (120.0, 0.5, 0.4)
    assert metadata.loudness == -9.5
    assert (metadata.valence, metadata.spotify_id) == (0.3, "sp1")  # untouched
    assert metadata.sources == {
        "tempo": "spotify",
        "energy": "import",
        "danceability": "demo",
        "loudness": "analysis",
    }


def test_a_value_of_unknown_origin_is_kept() -> None:
    # Entered by an editor (no source recorded): not ours to overwrite.
    metadata = TrackMetadataFactory(tempo=99.0, energy=None, danceability=None, sources={})
    assert "tempo" not in fill_from_analysis(metadata.video, measured())
    metadata.refresh_from_db()
    assert metadata.tempo == 99.0 and metadata.energy == 0.7


def test_updates_earlier_analysis_values() -> None:
    video = VideoFactory()
    fill_from_analysis(video, measured())
    assert fill_from_analysis(video, measured(tempo=98.0, energy=0.2)) == FOUR
    metadata = TrackMetadata.objects.get(video=video)
    assert (metadata.tempo, metadata.energy) == (98.0, 0.2)
    assert metadata.sources["tempo"] == "analysis"


def test_no_tempo_clears_an_analysis_tempo_but_not_spotifys() -> None:
    video = VideoFactory()
    fill_from_analysis(video, measured())
    assert "tempo" in fill_from_analysis(video, measured(tempo=None))
    metadata = TrackMetadata.objects.get(video=video)
    assert metadata.tempo is None and "tempo" not in metadata.sources

    spotify = TrackMetadataFactory(tempo=111.0, sources={"tempo": "spotify"})
    assert "tempo" not in fill_from_analysis(spotify.video, measured(tempo=None))
    spotify.refresh_from_db()
    assert spotify.tempo == 111.0


def test_no_audio_writes_nothing() -> None:
    video = VideoFactory()
    assert fill_from_analysis(video, None) == []
    assert not TrackMetadata.objects.filter(video=video).exists()


def test_analysis_needed() -> None:
    assert analysis_needed(VideoFactory())  # no metadata yet
    assert not analysis_needed(VideoFactory(is_query=True))
    complete = dict(tempo=120.0, loudness=-7.0, energy=0.5, danceability=0.5)
    spotify = TrackMetadataFactory(**complete, sources=dict.fromkeys(FOUR, "spotify"))
    assert not analysis_needed(spotify.video)
    partly = TrackMetadataFactory(
        **{**complete, "loudness": None}, sources=dict.fromkeys(FOUR, "spotify")
    )
    assert analysis_needed(partly.video)
    ours = TrackMetadataFactory(
        **complete, sources={**dict.fromkeys(FOUR, "spotify"), "energy": "analysis"}
    )
    assert analysis_needed(ours.video)


# --- analyse_track: the extraction stage's call site ----------------------------------------


def _media(video, tmp_path: Path, name: str) -> None:
    """Put a 10 s 120 BPM click track into MEDIA_ROOT and point the video at it."""
    rate = 11025
    signal = np.zeros(10 * rate)
    t = np.arange(int(0.03 * rate)) / rate
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)
    for start in np.arange(0, 10, 0.5):
        i = int(start * rate)
        signal[i : i + click.size] += 0.5 * click[: signal.size - i]
    source = tmp_path / name
    with wave.open(str(source), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    target = Path(settings.MEDIA_ROOT) / "videos" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    video.media.name = f"videos/{name}"
    video.save(update_fields=["media"])


def test_analyse_track_measures_the_media(tmp_path: Path) -> None:
    video = VideoFactory()
    _media(video, tmp_path, f"clicks-{video.pk}.wav")
    assert analyse_track(video.pk) == FOUR
    metadata = TrackMetadata.objects.get(video=video)
    assert metadata.tempo == pytest.approx(120.0, abs=1.5)
    assert metadata.loudness == pytest.approx(-30.8, abs=0.3)  # 20 clicks of 0.5 · e^(-150 t)
    assert metadata.sources == dict.fromkeys(FOUR, "analysis")


def test_analyse_track_skips_what_needs_nothing_and_swallows_bad_media(tmp_path: Path) -> None:
    assert analyse_track(VideoFactory().pk) == []  # no media file
    assert analyse_track(VideoFactory(media="videos/missing-file.wav").pk) == []  # MediaError
    silent_video = VideoFactory(media="videos/whatever.mp4", has_audio=False)
    assert analyse_track(silent_video.pk) == []
    complete = TrackMetadataFactory(
        tempo=120.0,
        loudness=-7.0,
        energy=0.5,
        danceability=0.5,
        sources=dict.fromkeys(FOUR, "spotify"),
        video=VideoFactory(media="videos/missing-too.wav"),
    )
    assert analyse_track(complete.video_id) == []
    assert not TrackMetadata.objects.filter(video__media="videos/missing-file.wav").exists()
