"""Seeds in ``POST /api/searches/`` (and its alias ``/api/searches/seeds/``): a seed search is
answered at once with the matches, catalog videos and ready uploads can be seeds, bad input is a
400 naming the field with nothing stored, and seed submissions share the search budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Video, VideoStatus
from search import seeds
from search.api_seeds import SeedSearchResultSerializer, seed_results_body
from search.models import CODE_DIM, Search
from tests.factories import VideoFactory, VideoVectorFactory

pytestmark = pytest.mark.django_db

URLS = ["/api/searches/", "/api/searches/seeds/"]


def _code(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (direction / np.linalg.norm(direction) + rng.normal(0, 0.02, CODE_DIM)).astype(
        np.float32
    )


@pytest.fixture
def planted():
    """Two far-apart clusters of 5 catalog videos (A, B) and nothing else in the catalog (so
    the fused lists hold only the clusters); query videos: a ready one (an earlier upload) in
    B, one near A that must never come back (the pool is the catalog), one still extracting
    and a failed one."""
    rng = np.random.default_rng(5)
    e = np.eye(CODE_DIM)
    clusters = {}
    for name, direction in (("A", e[0]), ("B", e[1])):
        clusters[name] = []
        for _ in range(5):
            video = VideoFactory()
            VideoVectorFactory(video=video, code=_code(direction, rng))
            clusters[name].append(video.pk)
    upload = VideoFactory(is_query=True, source="upload", title="my clip")
    VideoVectorFactory(video=upload, code=_code(e[1], rng))
    other_query = VideoFactory(is_query=True, source="upload")
    VideoVectorFactory(video=other_query, code=_code(e[0], rng))
    extracting = VideoFactory(is_query=True, status=VideoStatus.EXTRACTING)
    failed = VideoFactory(is_query=True, status=VideoStatus.FAILED, error="no audio")
    return {
        **clusters,
        "upload": upload.pk,
        "other_query": other_query.pk,
        "extracting": extracting.pk,
        "failed": failed.pk,
    }


def _stored() -> tuple[int, int]:
    return Video.objects.count(), Search.objects.count()


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("url", URLS)
def test_seeds_are_searched_at_once_and_nothing_is_stored(client, planted, url):
    a, b = planted["A"], planted["B"]
    before = _stored()
    response = _post(
        client, url, {"seeds": [a[0], b[0]], "representation": "code", "metric": "cosine", "k": 8}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [v["id"] for v in body["seeds"]] == [a[0], b[0]]
    assert body["exclude"] == [] and body["method"] == seeds.FUSION and body["k"] == 8
    assert {m["video"]["id"] for m in body["matches"]} == set(a[1:]) | set(b[1:])
    assert _stored() == before


def test_the_same_search_on_both_urls_gives_the_same_answer(client, planted):
    a, b = planted["A"], planted["B"]
    body = {"seeds": a[:2], "exclude": [b[0]], "representation": "code", "k": 6}
    for method in seeds.METHODS:
        answers = [_post(client, url, {**body, "method": method}).json() for url in URLS]
        assert answers[0] == answers[1]
        assert answers[0]["method"] == method
        assert [v["id"] for v in answers[0]["exclude"]] == [b[0]]


def test_a_ready_upload_is_a_seed_and_only_catalog_videos_come_back(client, planted):
    response = _post(
        client, URLS[0], {"seeds": [planted["upload"]], "representation": "code", "k": 5}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["seeds"][0]["id"] == planted["upload"] and body["seeds"][0]["is_query"]
    assert {m["video"]["id"] for m in body["matches"]} == set(planted["B"])
    # With a catalog seed too, and a query video near that one, which is not in the pool.
    response = _post(
        client,
        URLS[0],
        {"seeds": [planted["upload"], planted["A"][0]], "representation": "code", "k": 20},
    )
    got = [m["video"]["id"] for m in response.json()["matches"]]
    assert set(got) == set(planted["B"]) | set(planted["A"][1:])
    assert planted["other_query"] not in got


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"seeds": []}, "seeds", "at least one seed"),
        ({"seeds": None}, "seeds", "at least one seed"),
        ({"exclude": ["A1"]}, "seeds", "at least one seed"),
        ({"seeds": [999_999_999]}, "seeds", "no video with id 999999999"),
        ({"seeds": ["A0", "A0"]}, "seeds", "duplicate video ids"),
        ({"seeds": list(range(1, 12))}, "seeds", "at most 10 seed videos, got 11"),
        ({"seeds": ["A0", "extracting"]}, "seeds", "is not ready yet (status extracting)"),
        ({"seeds": ["A0", "failed"]}, "seeds", "failed to process"),
        ({"seeds": ["A0", "abc"]}, "seeds", "is not a video id"),
        ({"seeds": ["A0"], "exclude": [999_999_999]}, "exclude", "no video with id"),
        ({"seeds": ["A0"], "exclude": ["A1", "A1"]}, "exclude", "duplicate video ids"),
        ({"seeds": ["A0"], "exclude": ["A0"]}, "exclude", "both a seed and excluded"),
        ({"seeds": ["A0"], "exclude": ["extracting"]}, "exclude", "not ready yet"),
        ({"seeds": ["A0"], "k": 101}, "k", "between"),
        ({"seeds": ["A0"], "method": "vote"}, "method", "fusion, centroid"),
    ],
)
def test_bad_seeds_are_a_400_naming_the_field_and_nothing_is_stored(
    client, planted, url, body, param, words
):
    names = {"A0": planted["A"][0], "A1": planted["A"][1]} | {
        key: planted[key] for key in ("extracting", "failed")
    }

    def resolve(value):
        if isinstance(value, list):
            return [names.get(v, v) if isinstance(v, str) else v for v in value]
        return value

    body = {key: resolve(value) for key, value in body.items()} | {"representation": "code"}
    before = _stored()
    response = _post(client, url, body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [param], errors
    assert words in errors[param], errors[param]
    assert _stored() == before


@pytest.mark.parametrize("field", ["seeds", "exclude"])
def test_seeds_with_a_url_or_a_file_are_a_400(client, planted, field):
    ids = planted["A"][:1]
    before = _stored()
    body = {field: ids, "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}
    response = _post(client, URLS[0], body)
    assert response.status_code == 400
    assert "cannot be combined with url or file" in response.json()["errors"][field]
    upload = SimpleUploadedFile("clip.mp4", b"\0" * 100, content_type="video/mp4")
    response = client.post(URLS[0], {field: str(ids[0]), "file": upload})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert _stored() == before


def test_a_form_can_repeat_or_comma_separate_the_seeds(client, planted):
    a = planted["A"]
    repeated = client.post(URLS[0], {"seeds": a[:2], "representation": "code", "k": 3})
    joined = client.post(URLS[0], {"seeds": f"{a[0]},{a[1]}", "representation": "code", "k": 3})
    assert repeated.status_code == joined.status_code == 200, repeated.content
    assert [v["id"] for v in repeated.json()["seeds"]] == a[:2]
    assert repeated.json() == joined.json()


def test_seed_submissions_share_the_search_budget(client, planted, settings, redis_conn):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"search": "2/min"},
    }
    body = {"seeds": planted["A"][:2], "representation": "code", "k": 3}
    assert _post(client, URLS[0], body).status_code == 200
    assert _post(client, URLS[1], body).status_code == 200
    for url in URLS:
        refused = _post(client, url, body)
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) >= 1
        assert "Too many searches" in refused.json()["detail"]
    refused = _post(client, URLS[0], {"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"})
    assert refused.status_code == 429


def test_the_answer_is_what_the_documented_serializer_makes(client, planted):
    """The view builds its body without the nested serializers (speed): it must stay what the
    schema's SeedSearchResult says."""
    a, b = planted["A"], planted["B"]
    found = seeds.more_like_these(
        a[:2], [b[0]], representation="code", metric="cosine", k=5, method=seeds.CENTROID
    )
    documented = SeedSearchResultSerializer(
        {
            "seeds": found.seeds,
            "exclude": found.exclude,
            "representation": found.representation,
            "metric": found.metric,
            "k": found.k,
            "method": found.method,
            "matches": found.matches,
        }
    ).data
    assert len(documented["matches"]) == 3  # the rest of A: B is nearer the excluded video
    assert json.loads(json.dumps(seed_results_body(found))) == json.loads(json.dumps(documented))
    response = _post(
        client,
        URLS[0],
        {"seeds": a[:2], "exclude": [b[0]], "representation": "code", "k": 5, "method": "centroid"},
    )
    assert response.json() == json.loads(json.dumps(documented))
