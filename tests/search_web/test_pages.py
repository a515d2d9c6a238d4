"""Every page renders: empty catalog, a few factory videos with vectors, no model / a model."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Genre, VideoSource, VideoStatus
from ml.models import ModelVersion
from search.models import Search
from tests.factories import TrackMetadataFactory, VideoFactory, VideoFeaturesFactory
from tests.search_web import add_segments, vector_video

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["search:home", "search:explore", "search:about", "api-docs"])
def test_pages_render_with_an_empty_catalog(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"Demo catalog" not in response.content


def test_home_shows_form_recent_searches_and_explore_link(client):
    video = vector_video(1, is_query=True, title="My clip")
    Search.objects.create(query_video=video, representation="audio", metric="cosine", k=5)
    html = client.get(reverse("search:home")).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'name="url"' in html and 'name="file"' in html
    for value in ("code", "audio", "visual", "both", "euclidean", "cosine"):
        assert f'value="{value}"' in html
    assert 'name="boost"' in html
    assert "My clip" in html
    assert reverse("search:results", args=[video.pk]) in html
    assert reverse("search:explore") in html


def test_demo_catalog_banner(client):
    VideoFactory(source=VideoSource.DEMO)
    assert b"Demo catalog" in client.get(reverse("search:home")).content


def test_results_list_catalog_and_earlier_searches(client):
    pop = Genre.objects.get(slug="pop")
    query = vector_video(1, is_query=True, title="The query", predicted_genre=pop)
    query.predicted_confidence = 0.83
    query.save()
    catalog = [
        vector_video(10 + i, title=f"Catalog {i}", genre=pop if i == 0 else None) for i in range(3)
    ]
    vector_video(50, is_query=True, title="Older query")
    url = reverse("search:results", args=[query.pk]) + "?representation=audio&metric=euclidean&k=2"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Predicted genre: <strong>Pop</strong> (83% confidence)" in html
    catalog_block = html.split('id="catalog-matches"')[1].split("</ol>")[0]
    assert catalog_block.count('class="card match"') == 2  # k=2
    assert "Older query" in html.split('id="query-matches"')[1]
    assert re.search(r"distance \d+\.\d{3}", html)
    assert "<meter" in html
    # the selected parameters are shown back
    assert '<option value="audio" selected>' in html
    assert '<option value="euclidean" selected>' in html
    assert all(v.pk for v in catalog)


def test_same_genre_badge_and_contribution_bar(client, monkeypatch):
    """The badge comes from ranking; the bar from explain (monkeypatched to a fixed split)."""
    from search.explain import Explanation, SegmentPair

    rock = Genre.objects.get(slug="rock")
    query = vector_video(1, is_query=True, predicted_genre=rock)
    match = vector_video(2, genre=rock, youtube_id="abcdefghijk", title="Rock match")

    def fake_explain(q, m, representation, metric):
        return Explanation(representation, metric, 0.25, 0.75, [SegmentPair(0, 0.0, 2, 20.0, 0.5)])

    monkeypatch.setattr("search.selectors.explain", fake_explain)
    html = client.get(reverse("search:results", args=[query.pk])).content.decode()
    assert "same genre" in html
    assert "sound 25% · picture 75%" in html
    assert f'href="{reverse("search:video", args=[match.pk])}?t=20#player"' in html
    assert 'data-seek="20"' in html


def test_code_unavailable_falls_back_to_both_with_a_notice(client):
    query = vector_video(1, is_query=True)
    vector_video(2, title="Catalog one")
    response = client.get(reverse("search:results", args=[query.pk]) + "?representation=code")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The learned code is not available" in html
    assert "No learned codes yet" in html
    assert '<option value="both" selected>' in html
    assert "Catalog one" in html


def test_code_is_used_when_available(client):
    query = vector_video(1, is_query=True, code=True)
    vector_video(2, title="Coded", code=True)
    html = client.get(
        reverse("search:results", args=[query.pk]) + "?representation=code"
    ).content.decode()
    assert "not available" not in html
    assert "Coded" in html


def test_results_of_a_video_without_vectors_explain_why(client):
    query = VideoFactory(is_query=True)
    response = client.get(reverse("search:results", args=[query.pk]))
    assert response.status_code == 200
    assert "cannot run yet" in response.content.decode()


def test_results_redirect_to_progress_until_ready(client):
    query = VideoFactory(is_query=True, status=VideoStatus.EXTRACTING)
    response = client.get(reverse("search:results", args=[query.pk]) + "?k=3")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("search:progress", args=[query.pk]))
    assert "k=3" in response["Location"]


def test_progress_page_shows_stage_and_refreshes(client, redis_conn):
    from rq.job import Job

    job = Job.create("builtins.len", args=("x",), connection=redis_conn, id="job-progress-test")
    job.meta.update({"done": 3, "total": 10, "stage": "extracting features"})
    job.save()
    video = VideoFactory(is_query=True, status=VideoStatus.EXTRACTING, job_id=job.id)
    response = client.get(reverse("search:progress", args=[video.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<meta http-equiv="refresh"' in html
    assert "3 / 10 segments" in html
    assert 'class="current" data-stage="extracting"' in html
    assert reverse("search:progress_json", args=[video.pk]) in html
    assert "mvsim/search.js" in html

    state = client.get(reverse("search:progress_json", args=[video.pk])).json()
    assert state["status"] == "extracting"
    assert (state["done"], state["total"], state["percent"]) == (3, 10, 30)
    assert state["ready"] is False and state["failed"] is False


def test_progress_of_a_failed_video_shows_the_reason(client):
    video = VideoFactory(is_query=True, status=VideoStatus.FAILED, error="The video is too long")
    html = client.get(reverse("search:progress", args=[video.pk])).content.decode()
    assert "Processing failed: The video is too long" in html
    assert 'http-equiv="refresh"' not in html
    state = client.get(reverse("search:progress_json", args=[video.pk])).json()
    assert state["failed"] is True and state["error"] == "The video is too long"


def test_progress_redirects_to_results_when_ready(client):
    video = vector_video(1, is_query=True)
    response = client.get(reverse("search:progress", args=[video.pk]) + "?metric=euclidean")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("search:results", args=[video.pk]))
    assert "metric=euclidean" in response["Location"]


def test_explore_filters_by_genre_and_paginates(client):
    jazz = Genre.objects.get(slug="jazz")
    for i in range(26):
        VideoFactory(genre=jazz, title=f"Jazz {i:02d}", artist="A")
    VideoFactory(genre=Genre.objects.get(slug="metal"), title="Metal one")
    VideoFactory(is_query=True, genre=jazz, title="A query, not the catalog")
    html = client.get(reverse("search:explore") + "?genre=jazz").content.decode()
    assert "Jazz (26)" in html and "Metal (1)" in html
    assert "Metal one" not in html and "A query" not in html
    assert "page 1 of 2" in html
    page2 = client.get(reverse("search:explore") + "?genre=jazz&page=2").content.decode()
    assert "Jazz 25" in page2 and "Jazz 00" not in page2


def test_explore_unknown_genre_is_a_clear_message(client):
    response = client.get(reverse("search:explore") + "?genre=polka")
    assert response.status_code == 400
    assert "There is no genre “polka”" in response.content.decode()


def test_video_page_with_metadata_sources_timeline_and_player(client):
    video = vector_video(1, title="Detail song", media="videos/song.mp4")
    TrackMetadataFactory(
        video=video, tempo=128.0, energy=0.7, sources={"tempo": "analysis", "energy": "spotify"}
    )
    add_segments(video, 3)
    response = client.get(reverse("search:video", args=[video.pk]) + "?t=10")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<video id="player"' in html and 'src="/media/videos/song.mp4#t=10"' in html
    assert re.search(r"<th>Tempo</th><td>128.0</td><td[^>]*>Our audio analysis</td>", html)
    assert re.search(r"<th>Energy</th><td>0.7</td><td[^>]*>Spotify</td>", html)
    assert "<svg" in html and html.count("<polyline") == 4
    for name in ("Energy", "Spectral centroid", "Brightness", "Picture change"):
        assert name in html
    assert 'data-seek="20"' in html
    assert reverse("search:more_like_this", args=[video.pk]) in html


def test_video_page_youtube_embed_starts_at_t(client):
    video = VideoFactory(youtube_id="dQw4w9WgXcQ", source=VideoSource.YOUTUBE)
    html = client.get(reverse("search:video", args=[video.pk]) + "?t=42").content.decode()
    assert 'src="https://www.youtube.com/embed/dQw4w9WgXcQ?start=42"' in html


def test_video_page_of_a_processing_video_links_progress(client):
    video = VideoFactory(status=VideoStatus.DOWNLOADING, is_query=True)
    html = client.get(reverse("search:video", args=[video.pk])).content.decode()
    assert reverse("search:progress", args=[video.pk]) in html
    assert reverse("search:more_like_this", args=[video.pk]) not in html


def test_unknown_video_is_404(client):
    for name in ("search:video", "search:results", "search:progress", "search:progress_json"):
        assert client.get(reverse(name, args=[999999])).status_code == 404


def test_more_like_this_records_a_search_and_shows_results(client):
    video = vector_video(1, title="Seed")
    vector_video(2)
    response = client.post(
        reverse("search:more_like_this", args=[video.pk]),
        {"representation": "visual", "metric": "euclidean", "k": "4", "boost": "0.5"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("search:results", args=[video.pk]))
    search = Search.objects.get()
    assert (
        search.query_video_id,
        search.representation,
        search.metric,
        search.k,
        search.boost,
    ) == (video.pk, "visual", "euclidean", 4, 0.5)
    assert client.get(response["Location"]).status_code == 200


def test_more_like_this_needs_a_ready_video(client):
    video = VideoFactory(status=VideoStatus.PENDING)
    response = client.post(reverse("search:more_like_this", args=[video.pk]), follow=True)
    assert "not ready yet" in response.content.decode()
    assert Search.objects.count() == 0


def test_about_without_a_model(client):
    html = client.get(reverse("search:about")).content.decode()
    assert "No model yet" in html


def test_about_with_the_active_model(client, tmp_path):
    from pathlib import Path

    folder = Path(settings.MEDIA_ROOT) / "models" / "v1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.png").write_bytes(b"\x89PNG fake")
    model = ModelVersion.objects.create(
        name="LSTM v1",
        artifact_dir="models/v1",
        history_plot_path="models/v1/history.png",
        confusion_plot_path=str(folder / "missing.png"),
        metrics={
            "val_accuracy": 0.61,
            "baseline_val_accuracy": 0.48,
            "per_genre": {"Pop": {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 12}},
            "baseline_per_genre": {"Pop": {"f1": 0.5}},
            "n_train": 40,
            "n_val": 10,
            "val_code_precision_at_5": 0.874,
            "inputs_reason": "every labelled video has music embeddings",
        },
        config={"inputs": "music"},
        history={"loss": [1.0, 0.5], "val_genre_accuracy": [0.4, 0.61]},
    )
    model.activate()
    html = client.get(reverse("search:about")).content.decode()
    assert "LSTM v1" in html
    assert "40 / 10" in html and "did not train on" in html
    assert "genre precision@5 of held-out videos</th><td>0.874" in html
    assert "<td>music <span" in html
    assert "0.610" in html and "0.480" in html
    assert "<td>Pop</td><td>0.70</td><td>0.60</td><td>0.65</td><td>0.50</td><td>12</td>" in html
    assert 'src="/media/models/v1/history.png"' in html
    assert "No confusion-matrix plot stored" in html


def _poster_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return sum("features_videofeatures" in q["sql"] for q in captured.captured_queries)


def test_posters_cost_one_query_however_many_cards_or_matches(client):
    """Explore cards and result matches show each video's poster: one query for the posters of
    all of them, not one per card."""
    jazz = Genre.objects.get(slug="jazz")
    videos = [vector_video(i, genre=jazz, title=f"Jazz {i:02d}") for i in range(12)]
    for video in videos:
        VideoFeaturesFactory(video=video, poster=f"thumbs/{video.pk}/poster.webp")
    query = videos[0]
    assert _poster_queries(client, reverse("search:results", args=[query.pk]) + "?k=10") == 1
    html = client.get(reverse("search:results", args=[query.pk]) + "?k=10").content.decode()
    assert html.count("poster.webp") >= 10

    explore = reverse("search:explore")
    assert _poster_queries(client, explore) == 1
    assert client.get(explore).content.decode().count("poster.webp") == 12
