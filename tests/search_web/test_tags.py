"""Tag search (GET /api/tags/, /api/tags/search/, /tags/) and the artist cap and filters of
GET /api/videos/{id}/similar/ and the results page: answers, and clear 400s that store nothing."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import Video
from features.models import MUSIC_TAG_COUNT
from features.musicnn import MSD_TAGS
from search.models import Search
from search.tags import parse_tags, positions
from tests.factories import (
    SearchSettingsFactory,
    VideoFactory,
    VideoFeaturesFactory,
    VideoVectorFactory,
)
from tests.search_web import isolated_media

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]

DIM = 40


def _tags(values: dict[str, float], rest: float = 0.05) -> np.ndarray:
    vector = np.full(MUSIC_TAG_COUNT, rest, np.float32)
    for name, p in values.items():
        vector[positions(parse_tags(name))[0]] = p
    return vector


def _video(code, tags: dict[str, float] | None = None, **fields) -> Video:
    video = VideoFactory(**fields)
    VideoVectorFactory(video=video, code=np.asarray(code, np.float32))
    VideoFeaturesFactory(video=video, with_music=True, music_tags=_tags(tags or {}))
    return video


@pytest.fixture
def catalog():
    SearchSettingsFactory(max_per_artist=2)
    rng = np.random.default_rng(11)
    base = rng.standard_normal(DIM)
    query = _video(base, artist="Q", title="query")
    clones = [
        _video(base + 0.01 * rng.standard_normal(DIM), artist="Clones", title=f"clone {i}")
        for i in range(10)
    ]
    others = [
        _video(
            base + 0.3 * rng.standard_normal(DIM),
            tags={"guitar": 0.5} if i % 2 else {},
            artist=f"Solo {i}",
            duration_seconds=60.0 + 20 * i,
            title=f"other {i}",
        )
        for i in range(20)
    ]
    planted = _video(
        rng.standard_normal(DIM),
        tags={"guitar": 0.9, "electronic": 0.8},
        artist="Planted",
        title="planted",
    )
    return query, clones, others, planted


def _similar(client, query, **params):
    query_string = "&".join(f"{key}={value}" for key, value in params.items())
    return client.get(
        f"/api/videos/{query.pk}/similar/?representation=code&metric=cosine&k=10&boost=1"
        f"&{query_string}"
    )


# --------------------------------------------------------------------------- tag search


def test_tag_vocabulary(client):
    body = client.get("/api/tags/").json()
    assert body["model"] == "MSD_musicnn"
    assert body["tags"] == list(MSD_TAGS)
    assert body["threshold"] == 0.1


def test_tag_search_ranks_the_planted_tag_heavy_video_first(client, catalog):
    *_, planted = catalog
    response = client.get("/api/tags/search/?tags=guitar,Electronic&k=5")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tags"] == ["guitar", "electronic"] and body["k"] == 5
    assert len(body["matches"]) == 5
    first = body["matches"][0]
    assert first["video"]["id"] == planted.pk and first["rank"] == 1
    assert first["score"] == pytest.approx(0.85, abs=1e-4)
    assert first["tag_scores"] == pytest.approx({"guitar": 0.9, "electronic": 0.8}, abs=1e-4)
    scores = [m["score"] for m in body["matches"]]
    assert scores == sorted(scores, reverse=True)
    # Next come the guitar videos (0.5 guitar, 0.05 electronic -> 0.275).
    assert body["matches"][1]["score"] == pytest.approx(0.275, abs=1e-4)


def test_tag_search_page(client, catalog):
    *_, planted = catalog
    response = client.get("/tags/?tags=guitar, electronic&k=3")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="tag-matches"' in page and "planted" in page
    assert client.get("/tags/").status_code == 200


@pytest.mark.parametrize(
    ("query", "param", "says"),
    [
        ("tags=gutiar", "tags", "did you mean 'guitar'"),
        ("tags=female%20vocalist,elektronic", "tags", "'electronic'"),
        ("tags=", "tags", "at least one"),
        ("", "tags", "at least one"),
        ("tags=guitar&k=0", "k", "between 1 and 100"),
        ("tags=guitar&k=ten", "k", "whole number"),
    ],
)
def test_tag_search_bad_input_is_a_clear_400(client, catalog, query, param, says):
    searches = Search.objects.count()
    response = client.get(f"/api/tags/search/?{query}")
    assert response.status_code == 400
    assert says in response.json()["errors"][param]
    page = client.get(f"/tags/?{query}")
    # The page shows its empty form for no tags at all; anything else it refuses the same way.
    assert page.status_code == (200 if query in ("tags=", "") else 400)
    assert Search.objects.count() == searches


# --------------------------------------------------------------------------- similar


def test_similar_caps_artists_by_default_and_per_request(client, catalog):
    query, *_ = catalog
    body = _similar(client, query).json()
    assert body["max_per_artist"] == 2 and len(body["matches"]) == 10
    assert [m["video"]["artist"] for m in body["matches"]].count("Clones") == 2
    body = _similar(client, query, max_per_artist=5).json()
    assert [m["video"]["artist"] for m in body["matches"]].count("Clones") == 5
    assert body["max_per_artist"] == 5


def test_similar_filters_by_duration_and_tags(client, catalog):
    query, clones, others, _ = catalog
    body = _similar(client, query, min_duration=100, max_duration=300).json()
    assert body["min_duration"] == 100 and body["max_duration"] == 300
    assert body["matches"] and all(
        100 <= m["video"]["duration_seconds"] <= 300 for m in body["matches"]
    )
    assert len(body["matches"]) == 10  # others 2..12 (11 videos) are in range
    guitar = {v.pk for v in others[1::2]}
    body = _similar(client, query, tags="GUITAR").json()
    assert body["tags"] == ["guitar"]
    assert len(body["matches"]) == 10
    assert {m["video"]["id"] for m in body["matches"]} <= guitar


def test_results_page_shows_the_filter_controls_and_applies_them(client, catalog):
    query, clones, others, _ = catalog
    url = f"/videos/{query.pk}/results/?representation=code&metric=cosine&k=10&boost=1"
    page = client.get(url + "&max_per_artist=1&tags=guitar").content.decode()
    for name in ("max_per_artist", "min_duration", "max_duration", "tags", "genre"):
        assert f'name="{name}"' in page
    assert 'value="guitar"' in page and "clone" not in page.split('id="catalog-matches"')[1]
    page = client.get(url + "&max_per_artist=1").content.decode()
    assert page.split('id="catalog-matches"')[1].split("</ol>")[0].count("Clones") == 1


@pytest.mark.parametrize(
    ("query", "param", "says"),
    [
        ("max_per_artist=0", "max_per_artist", "between 1 and 100"),
        ("max_per_artist=101", "max_per_artist", "between 1 and 100"),
        ("max_per_artist=1.5", "max_per_artist", "whole number"),
        ("min_duration=ten", "min_duration", "number of seconds"),
        ("min_duration=300&max_duration=100", "min_duration", "must not be more than"),
        ("max_duration=-5", "max_duration", "between 0"),
        ("tags=guitar,no-such-tag", "tags", "is not a music tag"),
        ("genre=no-such-genre", "genre", "not a known genre"),
    ],
)
def test_similar_bad_filters_are_clear_400s_and_store_nothing(client, catalog, query, param, says):
    video = catalog[0]
    searches, videos = Search.objects.count(), Video.objects.count()
    response = client.get(f"/api/videos/{video.pk}/similar/?{query}")
    assert response.status_code == 400
    assert says in response.json()["errors"][param]
    page = client.get(f"/videos/{video.pk}/results/?{query}")
    assert page.status_code == 400
    assert says in page.content.decode().replace("&#x27;", "'")
    assert (Search.objects.count(), Video.objects.count()) == (searches, videos)


def test_tag_search_returns_ready_catalog_videos_only_even_when_queries_top_the_tags(
    client, catalog
):
    *_, planted = catalog
    for i in range(15):  # more than the 10 candidates ranked per result before the join
        _video(
            np.zeros(DIM) + i,
            tags={"guitar": 0.99, "electronic": 0.99},
            is_query=True,
            title=f"query {i}",
        )
    body = client.get("/api/tags/search/?tags=guitar,electronic&k=1").json()
    assert [m["video"]["id"] for m in body["matches"]] == [planted.pk]
