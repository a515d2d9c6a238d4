"""search.presenters: pure functions from domain objects to what pages and the API show
(the database reads they are given come from search.selectors)."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import VideoSource
from features.models import AUDIO_DIM, VISUAL_DIM
from search import presenters, selectors
from tests.factories import TrackMetadataFactory, VideoFactory
from tests.search_web import add_segments

pytestmark = pytest.mark.django_db


def test_play_url_starts_the_player_at_whole_seconds():
    video = VideoFactory()
    page = f"/videos/{video.pk}/"
    assert presenters.play_url(video) == f"{page}#player"
    assert presenters.play_url(video, 20.7) == f"{page}?t=20#player"


def test_player_kinds():
    assert presenters.player(VideoFactory(media="videos/a.mp4"), 12.9) == {
        "kind": "video",
        "src": "/media/videos/a.mp4",
        "start": 12,
    }
    assert presenters.player(VideoFactory(media="a b.mp3", has_video=False))["kind"] == "audio"
    assert presenters.player(VideoFactory(media="a b.mp3", has_video=False))["src"] == (
        "/media/a%20b.mp3"
    )
    youtube = VideoFactory(youtube_id="dQw4w9WgXcQ", source=VideoSource.YOUTUBE)
    assert presenters.player(youtube, -5) == {
        "kind": "youtube",
        "src": "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "start": 0,
    }
    assert presenters.player(VideoFactory())["kind"] == "none"


def test_metadata_rows_name_each_values_source():
    video = VideoFactory()
    assert presenters.metadata_rows(selectors.track_metadata(video)) == []
    TrackMetadataFactory(video=video, tempo=128.0, sources={"tempo": "analysis"})
    video.refresh_from_db()
    rows = presenters.metadata_rows(selectors.track_metadata(video))
    tempo = next(row for row in rows if row["name"] == "tempo")
    assert tempo == {"name": "tempo", "value": 128.0, "source": "Our audio analysis"}


def test_timeline_draws_one_polyline_per_series_from_the_segment_rows():
    video = VideoFactory(duration_seconds=30.0)
    assert presenters.timeline(video, selectors.segment_rows(video)) is None
    add_segments(video, 3)
    rows = selectors.segment_rows(video)
    assert [row[:3] for row in rows] == [(0, 0.0, 10.0), (1, 10.0, 20.0), (2, 20.0, 30.0)]
    drawn = presenters.timeline(video, rows, width=300, row_height=50)
    assert drawn.height == 4 * 50
    assert [s.name for s in drawn.series] == [
        "Energy",
        "Spectral centroid",
        "Brightness",
        "Picture change",
    ]
    for series in drawn.series:
        xs = [float(point.split(",")[0]) for point in series.points.split()]
        assert xs == [50.0, 150.0, 250.0]  # segment centres at 300 px for 30 s
    assert [s["url"] for s in drawn.segments] == [
        presenters.play_url(video, start) for start in (0.0, 10.0, 20.0)
    ]


def test_timeline_is_a_pure_function_of_its_rows():
    video = VideoFactory(duration_seconds=20.0)
    rows = [
        (i, i * 10.0, (i + 1) * 10.0, np.full(AUDIO_DIM, i + 1.0), np.zeros(VISUAL_DIM))
        for i in range(2)
    ]
    drawn = presenters.timeline(video, rows)
    assert drawn.series[0].low <= drawn.series[0].high
    assert drawn.series[3].values == [0.0, 0.0]  # no picture change between black frames


def test_about_without_a_model_is_the_summary():
    summary = selectors.about_summary()
    assert summary["model"] is None
    assert presenters.about(summary) == summary
