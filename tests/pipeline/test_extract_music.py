"""`extract --only music`: MusiCNN embeddings added to a catalog extracted without them, with
their search vectors, and clear errors for what it cannot do."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import VideoStatus
from features.models import Segment, VideoFeatures
from pipeline.services import run_here
from search.models import VideoVector
from search.ranking import find_similar

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def extracted_without_music(settings, media_video):
    """Three ready videos (one without audio), extracted while music embeddings were off."""
    settings.MUSIC_EMBEDDINGS = False
    videos = [
        media_video("a.mp4", 7.0),
        media_video("b.mp4", 7.0),
        media_video("silent.mp4", 4.0, tone_hz=None),
    ]
    for video in videos:
        assert run_here(video).status == VideoStatus.READY
    assert not VideoFeatures.objects.filter(music_mean__isnull=False).exists()
    settings.MUSIC_EMBEDDINGS = True
    return videos


def test_adds_embeddings_and_vectors_to_an_extracted_catalog(extracted_without_music):
    a, b, silent = extracted_without_music
    before = dict(VideoFeatures.objects.values_list("video_id", "audio_mean"))
    out = run("extract", "--only", "music", "--pending")
    # The silent video is not even pending: it has no audio to embed.
    assert "music embeddings: 2 video(s) updated, 0 without audio, 0 failed" in out
    for video in (a, b):
        features = VideoFeatures.objects.get(video=video)
        assert features.music_model == "MSD_musicnn"
        assert np.isfinite(features.music_mean).all() and np.asarray(features.music_mean).any()
        np.testing.assert_array_equal(features.audio_mean, before[video.pk])  # others kept
        assert not Segment.objects.filter(video=video, music__isnull=True).exists()
        assert VideoVector.objects.get(video=video).music is not None
    assert VideoVector.objects.get(video=silent).music is None
    found = find_similar(a, representation="music", metric="cosine", k=5, boost=1.0)
    assert [m.video.pk for m in found] == [b.pk]

    assert "nothing to add music embeddings to" in run("extract", "--only", "music", "--pending")
    out = run("extract", "--only", "music", "--all")
    assert "2 video(s) updated, 1 without audio, 0 failed" in out


def test_rejects_videos_it_cannot_embed(extracted_without_music, settings, media_video):
    fresh = media_video("fresh.mp4", 3.0)
    with pytest.raises(CommandError, match=f"video {fresh.pk} is not extracted yet"):
        run("extract", "--only", "music", "--video", str(fresh.pk))
    with pytest.raises(CommandError, match="no video with id 999999"):
        run("extract", "--only", "music", "--video", "999999")
    settings.MUSIC_EMBEDDINGS = False
    with pytest.raises(CommandError, match="turned off"):
        run("extract", "--only", "music", "--all")
    assert not VideoFeatures.objects.filter(music_mean__isnull=False).exists()


def test_a_missing_checkpoint_is_a_clear_error(extracted_without_music, monkeypatch, tmp_path):
    monkeypatch.setenv("MVSIM_MUSICNN_DIR", str(tmp_path))
    monkeypatch.setattr("features.musicnn._models", {})
    with pytest.raises(CommandError, match="MSD_musicnn"):
        run("extract", "--only", "music", "--all")
