"""The similar-video answer cache (search.result_cache): hits, keys, invalidation on commit,
and searching on without Redis."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connections

from catalog.models import Genre
from search import materialize, result_cache, selectors
from search.models import SearchSettings, VideoVector
from tests.search_web import vector_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_conn")]


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.SEARCH_RESULT_CACHE_SECONDS = 60


def _catalog(n: int = 5):
    rock = Genre.objects.get(slug="rock")
    query = vector_video(1, genre=rock)
    others = [vector_video(10 + i, genre=rock) for i in range(n)]
    return query, others


def _similar(client, video, params: str = "representation=audio&metric=euclidean&k=3"):
    response = client.get(f"/api/videos/{video.pk}/similar/?{params}")
    assert response.status_code == 200, response.content
    return response


def test_second_answer_is_the_stored_one(client):
    query, _ = _catalog()
    first = _similar(client, query)
    second = _similar(client, query)
    assert first["X-Result-Cache"] == "miss"
    assert second["X-Result-Cache"] == "hit"
    assert second["Content-Type"] == "application/json"
    assert second.content == first.content
    assert len(second.json()["matches"]) == 3


def test_parameter_order_does_not_matter_but_values_do(client):
    query, _ = _catalog()
    _similar(client, query, "k=3&metric=euclidean&representation=audio")
    assert (
        _similar(client, query, "representation=audio&k=3&metric=euclidean")["X-Result-Cache"]
        == "hit"
    )
    other = _similar(client, query, "representation=audio&k=4&metric=euclidean")
    assert other["X-Result-Cache"] == "miss"
    assert len(other.json()["matches"]) == 4


def test_a_committed_edit_makes_the_answer_stale(client, django_capture_on_commit_callbacks):
    query, others = _catalog()
    before = _similar(client, query).json()
    nearest = before["matches"][0]["video"]
    with django_capture_on_commit_callbacks(execute=True):
        changed = type(query).objects.get(pk=nearest["id"])
        changed.title = "Retitled by an editor"
        changed.save()
    after = _similar(client, query)
    assert after["X-Result-Cache"] == "miss"
    assert after.json()["matches"][0]["video"]["title"] == "Retitled by an editor"


def test_a_deleted_match_disappears_and_a_deleted_query_is_404(
    client, django_capture_on_commit_callbacks
):
    query, _ = _catalog()
    first_id = _similar(client, query).json()["matches"][0]["video"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        type(query).objects.filter(pk=first_id).first().delete()
    ids = [m["video"]["id"] for m in _similar(client, query).json()["matches"]]
    assert first_id not in ids
    query_id = query.pk
    with django_capture_on_commit_callbacks(execute=True):
        query.delete()
    assert client.get(f"/api/videos/{query_id}/similar/?representation=audio").status_code == 404


def test_bulk_vector_writes_move_the_epoch(django_capture_on_commit_callbacks):
    query, _ = _catalog(1)
    epoch = result_cache.current_epoch()
    # A nearer newcomer written the way materialisation writes (bulk upsert: no signals).
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        materialize._write(
            materialize.load_generation()
            or materialize.Generation.from_stats(materialize.fit_stats()),
            [],
        )
    assert callbacks, "a materialisation write must schedule the epoch's move"
    assert result_cache.current_epoch() != epoch


def test_settings_edit_changes_the_answer(client, django_capture_on_commit_callbacks):
    query, _ = _catalog()
    assert SearchSettings.cached().k > 5
    assert len(_similar(client, query, "representation=audio").json()["matches"]) == 5
    with django_capture_on_commit_callbacks(execute=True):
        row = SearchSettings.cached()
        row.k = 2
        row.save()
    SearchSettings.forget_cached()
    answer = _similar(client, query, "representation=audio")
    assert answer["X-Result-Cache"] == "miss"
    assert len(answer.json()["matches"]) == 2


def test_new_vector_shows_up(client, django_capture_on_commit_callbacks):
    query, _ = _catalog()
    _similar(client, query)
    with django_capture_on_commit_callbacks(execute=True):
        twin = vector_video(500, genre=query.genre)
        vector = VideoVector.objects.get(video=twin)
        own = VideoVector.objects.get(video=query)
        vector.audio = np.asarray(own.audio) + 1e-3
        vector.save()
    ids = [m["video"]["id"] for m in _similar(client, query).json()["matches"]]
    assert ids[0] == twin.pk


def test_without_redis_searches_still_answer(client, settings):
    query, _ = _catalog()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    answer = _similar(client, query)
    assert answer["X-Result-Cache"] == "off"
    assert len(answer.json()["matches"]) == 3


def test_off_when_lifetime_is_zero(client, settings):
    settings.SEARCH_RESULT_CACHE_SECONDS = 0
    query, _ = _catalog()
    _similar(client, query)
    assert _similar(client, query)["X-Result-Cache"] == "off"


def test_a_moved_epoch_drops_this_process_copies():
    result_cache.current_epoch()
    SearchSettings.cached()
    materialize.cached_generation()
    assert SearchSettings._cached is not None and materialize._cached_generation is not None
    result_cache.current_epoch()  # unchanged: the copies stay
    assert SearchSettings._cached is not None
    cache.set(result_cache.epoch_key(), 42, timeout=None)  # another process wrote something
    assert result_cache.current_epoch() == 42
    assert SearchSettings._cached is None and materialize._cached_generation is None


def test_each_database_has_its_own_epoch():
    ours, before = result_cache.epoch_key(), result_cache.current_epoch()
    name = connections["default"].settings_dict["NAME"]
    assert name in ours
    try:
        connections["default"].settings_dict["NAME"] = "another_catalog"
        theirs = result_cache.epoch_key()
        result_cache.bump()  # a write to the other catalog
    finally:
        connections["default"].settings_dict["NAME"] = name
    assert theirs != ours
    assert result_cache.current_epoch() == before  # ours did not move
    result_cache.bump()
    assert result_cache.current_epoch() != before  # and this test can tell


def test_with_a_replica_nothing_is_stored_until_it_caught_up(client, monkeypatch, settings):
    query, _ = _catalog()
    monkeypatch.setattr(result_cache, "replica_configured", lambda: True)
    settings.REPLICA_LAG_SECONDS = 30
    result_cache.bump()  # a write just now: the replica may not have it yet
    assert not result_cache.settled(result_cache.current_epoch())
    _similar(client, query)
    assert _similar(client, query)["X-Result-Cache"] == "miss"  # computed, not stored
    cache.set(result_cache.epoch_key(), time.time_ns() - 31 * 10**9, timeout=None)
    _similar(client, query)
    assert _similar(client, query)["X-Result-Cache"] == "hit"


def test_results_page_is_computed_once_per_catalog_change(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    # Counted at the function, not in the logged SQL: a statement psycopg has prepared is
    # logged without its text.
    searches = []
    real_similar = selectors.similar
    monkeypatch.setattr(
        selectors, "similar", lambda *a, **kw: searches.append(a) or real_similar(*a, **kw)
    )
    query, others = _catalog()
    url = f"/videos/{query.pk}/results/?representation=audio&metric=euclidean&k=3"
    first = client.get(url)
    assert first.status_code == 200 and len(searches) == 1
    again = client.get(url)
    assert again.content == first.content
    assert len(searches) == 1, "searched again"
    nearest_id = _similar(client, query).json()["matches"][0]["video"]["id"]
    searches.clear()
    with django_capture_on_commit_callbacks(execute=True):
        nearest = type(query).objects.get(pk=nearest_id)
        nearest.title = "A new title on the page"
        nearest.save()
    page = client.get(url).content.decode()
    assert len(searches) == 1, "a stale page"
    assert "A new title on the page" in page
