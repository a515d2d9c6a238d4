"""Bad input everywhere: a clear 400/413 naming the problem, and nothing stored."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Video
from search.models import Search
from tests.mediagen import make_video
from tests.search_web import isolated_media, media_files, vector_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]

GOOD_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
BAD_URLS = [
    ("https://vimeo.com/123456", "Only YouTube links"),
    ("file:///etc/passwd", "not file: links"),
    ("http://127.0.0.1:8000/watch?v=dQw4w9WgXcQ", "loopback"),
    ("http://10.1.2.3/watch?v=dQw4w9WgXcQ", "private"),
    ("http://192.168.0.10/watch?v=dQw4w9WgXcQ", "private"),
    ("http://[::1]/watch?v=dQw4w9WgXcQ", "IP addresses"),
    ("http://2130706433/watch?v=dQw4w9WgXcQ", "IP addresses"),
    ("http://localhost/watch?v=dQw4w9WgXcQ", "local machines"),
    ("https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "Only YouTube links"),
    ("https://www.youtube.com/watch?v=short", "not valid"),
    ("https://www.youtube.com/feed/trending", "No video id"),
    ("javascript:alert(1)", "not javascript: links"),
    ("]", "not a valid link"),  # found by schemathesis: was a 500
]


@pytest.fixture
def nothing_stored():
    before = (Video.objects.count(), Search.objects.count())
    yield
    assert (Video.objects.count(), Search.objects.count()) == before
    assert media_files() == set()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("bad") / "c.mp4", 1.0, size="64x36").read_bytes()


@pytest.mark.parametrize("url, message", BAD_URLS)
def test_bad_url_on_the_page(client, nothing_stored, url, message):
    response = client.post(reverse("search:submit"), {"url": url})
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize("url, message", BAD_URLS)
def test_bad_url_in_the_api(client, nothing_stored, url, message):
    response = client.post("/api/searches/", {"url": url}, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert message in body["errors"]["url"] and body["detail"].startswith("url:")


def test_oversize_upload(client, settings, clip, nothing_stored):
    settings.UPLOAD_MAX_BYTES = 500
    page = client.post(reverse("search:submit"), {"file": SimpleUploadedFile("big.mp4", clip)})
    assert page.status_code == 413 and "too large" in page.content.decode()
    api = client.post("/api/searches/", {"file": SimpleUploadedFile("big.mp4", clip)})
    assert api.status_code == 413 and "too large" in api.json()["errors"]["file"]


@pytest.mark.parametrize("name", ["notes.txt", "notes.mp4"])
def test_text_file_upload(client, nothing_stored, name):
    text = b"these are not the frames you are looking for\n" * 20
    page = client.post(reverse("search:submit"), {"file": SimpleUploadedFile(name, text)})
    assert page.status_code == 400
    assert "is not a video or audio file" in page.content.decode()
    api = client.post("/api/searches/", {"file": SimpleUploadedFile(name, text)})
    assert api.status_code == 400 and "not a video or audio file" in api.json()["errors"]["file"]


def test_url_and_file_together_or_neither(client, clip, nothing_stored):
    both = {"url": GOOD_URL, "file": SimpleUploadedFile("c.mp4", clip)}
    assert client.post(reverse("search:submit"), both).status_code == 400
    both = {"url": GOOD_URL, "file": SimpleUploadedFile("c.mp4", clip)}
    assert "not both" in client.post("/api/searches/", both).json()["errors"]["url"]
    assert client.post(reverse("search:submit"), {}).status_code == 400
    assert client.post("/api/searches/", {}, content_type="application/json").status_code == 400
    assert client.post("/api/searches/", [1], content_type="application/json").status_code == 400
    assert (
        client.post("/api/searches/", {"url": 5}, content_type="application/json").status_code
        == 400
    )


BAD_PARAMS = [
    ("k=0", "k"),
    ("k=10000", "k"),
    ("k=three", "k"),
    ("representation=foo", "representation"),
    ("metric=bar", "metric"),
    ("boost=2", "boost"),
    ("boost=0", "boost"),
    ("boost=abc", "boost"),
    ("boost=nan", "boost"),
]


@pytest.mark.parametrize("query, param", BAD_PARAMS)
def test_bad_search_parameters_store_nothing(client, nothing_stored, query, param):
    key, value = query.split("=")
    page = client.post(reverse("search:submit"), {"url": GOOD_URL, key: value})
    assert page.status_code == 400
    assert f"{param} must" in page.content.decode()
    api = client.post(
        "/api/searches/", {"url": GOOD_URL, key: value}, content_type="application/json"
    )
    assert api.status_code == 400
    assert f"{param} must" in api.json()["errors"][param]


@pytest.mark.parametrize(
    "query, param", [*BAD_PARAMS, ("genre=polka", "genre"), ("pool=all", "pool")]
)
def test_bad_similar_parameters_in_the_api(client, query, param):
    video = vector_video(1)
    response = client.get(f"/api/videos/{video.pk}/similar/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert param in body["errors"] and body["detail"].startswith(f"{param}:")
    assert param in body["errors"][param]


@pytest.mark.parametrize("query, param", BAD_PARAMS)
def test_bad_parameters_on_the_results_page(client, query, param):
    video = vector_video(1)
    response = client.get(reverse("search:results", args=[video.pk]) + "?" + query)
    assert response.status_code == 400
    assert f"{param} must" in response.content.decode()


@pytest.mark.parametrize("query, param", [("genre=polka", "genre"), ("is_query=maybe", "is_query")])
def test_bad_video_filters(client, query, param):
    response = client.get(f"/api/videos/?{query}")
    assert response.status_code == 400
    assert param in response.json()["errors"]


def test_more_like_this_with_bad_parameters(client):
    video = vector_video(1)
    response = client.post(
        reverse("search:more_like_this", args=[video.pk]), {"k": "0"}, follow=True
    )
    assert "k must be between 1 and 100" in response.content.decode()
    assert Search.objects.count() == 0
