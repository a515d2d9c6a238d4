"""The REST API: listing, filters, similar videos, starting searches, jobs, schema and docs."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Genre, Video, VideoStatus
from search.models import Search
from tests.factories import TrackMetadataFactory, VideoFactory
from tests.mediagen import make_video
from tests.search_web import isolated_media, vector_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]


def test_genres_with_catalog_counts(client):
    VideoFactory(genre=Genre.objects.get(slug="blues"))
    VideoFactory(genre=Genre.objects.get(slug="blues"), is_query=True)
    data = client.get("/api/genres/").json()
    blues = next(g for g in data if g["slug"] == "blues")
    assert blues == {"id": blues["id"], "name": "Blues", "slug": "blues", "catalog_count": 1}
    assert len(data) >= 10


def test_videos_list_filters_and_paginates(client):
    latin = Genre.objects.get(slug="latin")
    a = VideoFactory(genre=latin, title="Latin A")
    VideoFactory(genre=Genre.objects.get(slug="house"))
    q = VideoFactory(is_query=True, genre=latin)
    body = client.get("/api/videos/").json()
    assert body["count"] == 3 and "next" in body and len(body["results"]) == 3
    by_slug = client.get("/api/videos/?genre=latin").json()["results"]
    assert {v["id"] for v in by_slug} == {a.pk, q.pk}
    by_id = client.get(f"/api/videos/?genre={latin.pk}&is_query=false").json()["results"]
    assert [v["id"] for v in by_id] == [a.pk]
    assert by_id[0]["genre"]["slug"] == "latin"
    assert by_id[0]["page_url"] == f"/videos/{a.pk}/"
    queries = client.get("/api/videos/?is_query=true").json()["results"]
    assert [v["id"] for v in queries] == [q.pk]
    page = client.get("/api/videos/?limit=1&offset=1").json()
    assert len(page["results"]) == 1 and page["count"] == 3


def test_video_detail_with_metadata_sources(client):
    video = VideoFactory(title="Detail")
    TrackMetadataFactory(video=video, tempo=99.0, sources={"tempo": "analysis"})
    data = client.get(f"/api/videos/{video.pk}/").json()
    assert data["title"] == "Detail"
    assert data["metadata"]["tempo"] == 99.0
    assert data["metadata"]["sources"] == {"tempo": "analysis"}
    assert data["similar_url"] == f"/api/videos/{video.pk}/similar/"
    assert data["segment_count"] == 0


def test_similar_returns_scored_matches(client):
    rock = Genre.objects.get(slug="rock")
    query = vector_video(1, genre=rock)
    others = [vector_video(10 + i, genre=rock if i == 0 else None) for i in range(4)]
    vector_video(99, is_query=True)
    response = client.get(
        f"/api/videos/{query.pk}/similar/?representation=audio&metric=euclidean&k=3&boost=0.5"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["query"]["id"] == query.pk
    assert (data["representation"], data["metric"], data["k"], data["boost"]) == (
        "audio",
        "euclidean",
        3,
        0.5,
    )
    assert len(data["matches"]) == 3
    ids = {m["video"]["id"] for m in data["matches"]}
    assert ids <= {v.pk for v in others}
    first = data["matches"][0]
    assert set(first) == {
        "rank",
        "score",
        "distance",
        "boosted_distance",
        "same_genre",
        "contributions",
        "segment_pairs",
        "shared_tags",
        "video",
        "versions",
    }
    assert 0 <= first["score"] <= 1 and first["distance"] >= 0
    assert set(first["contributions"]) == {"audio", "visual"}
    same = [m for m in data["matches"] if m["video"]["id"] == others[0].pk]
    if same:
        assert same[0]["same_genre"] is True
        assert same[0]["boosted_distance"] == pytest.approx(same[0]["distance"] * 0.5)
    queries = client.get(f"/api/videos/{query.pk}/similar/?pool=queries").json()
    assert [m["video"]["is_query"] for m in queries["matches"]] == [True]


def test_similar_code_falls_back_with_a_notice(client):
    query = vector_video(1)
    vector_video(2)
    data = client.get(f"/api/videos/{query.pk}/similar/?representation=code").json()
    assert data["requested_representation"] == "code"
    assert data["representation"] == "both"
    assert "not available" in data["notice"]


def test_similar_of_a_video_not_ready_is_409(client):
    video = VideoFactory(status=VideoStatus.EXTRACTING)
    response = client.get(f"/api/videos/{video.pk}/similar/")
    assert response.status_code == 409
    assert "not ready" in response.json()["detail"]


def test_post_url_answers_202_with_a_job_to_poll(client):
    response = client.post(
        "/api/searches/",
        {"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "k": 5, "metric": "euclidean"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    search = Search.objects.get()
    assert body["search_id"] == search.pk and body["video_id"] == search.query_video_id
    assert response["Location"] == body["job_url"] == f"/api/jobs/{search.pk}/"
    assert body["reused"] is False and body["status"] == "downloading"
    assert (search.k, search.metric) == (5, "euclidean")

    job = client.get(body["job_url"]).json()
    assert job["id"] == search.pk and job["video_id"] == body["video_id"]
    assert job["status"] == "downloading" and job["stage"] == "Downloading"
    assert set(job["progress"]) == {"done", "total", "percent"}
    assert job["ready"] is False and job["error"] == ""
    assert job["results_url"].startswith(f"/api/videos/{body['video_id']}/similar/?")

    again = client.post(
        "/api/searches/", {"url": "https://youtu.be/dQw4w9WgXcQ"}, content_type="application/json"
    )
    assert again.status_code == 202 and again.json()["reused"] is True
    assert again.json()["video_id"] == body["video_id"]
    assert Video.objects.count() == 1 and Search.objects.count() == 2


def test_post_url_of_a_ready_catalog_video_answers_200(client):
    video = vector_video(1, youtube_id="dQw4w9WgXcQ")
    response = client.post(
        "/api/searches/", {"url": "https://youtu.be/dQw4w9WgXcQ"}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["video_id"] == video.pk and body["reused"] is True and body["status"] == "ready"
    assert client.get(body["results_url"]).status_code == 200


def test_post_multipart_file(client, tmp_path):
    data = make_video(tmp_path / "c.mp4", 1.0, size="64x36").read_bytes()
    response = client.post(
        "/api/searches/", {"file": SimpleUploadedFile("c.mp4", data), "representation": "audio"}
    )
    assert response.status_code == 202, response.content
    video = Video.objects.get(pk=response.json()["video_id"])
    assert video.source == "upload" and video.is_query
    assert Search.objects.get().representation == "audio"


def test_job_of_a_failed_search_reports_the_error(client):
    video = VideoFactory(is_query=True, status=VideoStatus.FAILED, error="no such video")
    search = Search.objects.create(query_video=video, representation="both", metric="cosine")
    job = client.get(f"/api/jobs/{search.pk}/").json()
    assert job["failed"] is True and job["error"] == "no such video"


@pytest.mark.parametrize(
    "url",
    [
        "/api/videos/999999/",
        "/api/videos/999999/similar/",
        "/api/jobs/999999/",
        "/api/genres/999999/",
        "/api/videos/abc/",
    ],
)
def test_unknown_ids_are_404(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "method, url",
    [
        ("post", "/api/videos/"),
        ("delete", "/api/genres/"),
        ("get", "/api/searches/"),
        ("put", "/api/jobs/1/"),
        ("post", "/api/videos/1/similar/"),
    ],
)
def test_wrong_method_is_405(client, method, url):
    assert getattr(client, method)(url).status_code == 405


def test_schema_lists_every_endpoint(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/genres/",
        "/api/videos/",
        "/api/videos/{id}/",
        "/api/videos/{id}/similar/",
        "/api/searches/",
        "/api/jobs/{id}/",
    ):
        assert path in paths
    params = {p["name"] for p in paths["/api/videos/{id}/similar/"]["get"]["parameters"]}
    assert {"representation", "metric", "k", "boost"} <= params
    assert client.get("/api/schema/").status_code == 200  # YAML


def test_docs_page_loads_swagger_ui_from_local_static_files(client):
    """drf-spectacular-sidecar's Swagger UI: scripts, styles and icon under /static/, which
    are there to serve; the schema from this site; no other host anywhere in the page."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", html)
    assert len(assets) == 4, assets  # icon, stylesheet, bundle, standalone preset
    for url in assets:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file"
    assert not re.search(r"https?://", html), "the docs page names another host"
    assert 'url: "/api/schema/"' in html
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_similar_serialises_the_explanations_segment_pairs_as_they_are(client, monkeypatch):
    """The API's segment pairs are search.explain.SegmentPair objects, read by the serializer:
    same fields, order and values as the explanation (and as the results page shows)."""
    from search.explain import Explanation, SegmentPair

    query = vector_video(1, is_query=True)
    match = vector_video(2, title="Only match")

    def fake_explain_many(q, matches, representation, metric):
        pairs = [SegmentPair(0, 0.0, 2, 20.0, 0.5), SegmentPair(3, 30.5, 1, 10.0, 0.75)]
        return [Explanation(representation, metric, 0.25, 0.75, pairs, ("rock",)) for _ in matches]

    monkeypatch.setattr("search.selectors.explain_many", fake_explain_many)
    response = client.get(f"/api/videos/{query.pk}/similar/?representation=audio&k=1")
    assert response.status_code == 200, response.content
    (row,) = response.json()["matches"]
    assert row["video"]["id"] == match.pk
    assert list(row) == [
        "rank",
        "score",
        "distance",
        "boosted_distance",
        "same_genre",
        "contributions",
        "segment_pairs",
        "shared_tags",
        "video",
        "versions",
    ]
    assert row["contributions"] == {"audio": 0.25, "visual": 0.75}
    assert row["segment_pairs"] == [
        {
            "query_index": 0,
            "query_start": 0.0,
            "match_index": 2,
            "match_start": 20.0,
            "distance": 0.5,
        },
        {
            "query_index": 3,
            "query_start": 30.5,
            "match_index": 1,
            "match_start": 10.0,
            "distance": 0.75,
        },
    ]
    assert [list(pair) for pair in row["segment_pairs"]] == [
        ["query_index", "query_start", "match_index", "match_start", "distance"]
    ] * 2
    assert row["shared_tags"] == ["rock"]
