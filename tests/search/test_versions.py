"""Alternate versions (search.versions): song keys, the planted set's merge figures, and
results that hide the query's versions and show one row per song (pages and API)."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.urls import reverse

from bench.versions import measure
from search import selectors
from search.forms import InvalidParams, parse_params
from search.selectors import similar
from search.versions import song_key
from tests.factories import SearchSettingsFactory, VideoFactory, VideoVectorFactory

MUSIC_DIM = 200


@pytest.mark.parametrize(
    ("title", "artist", "key"),
    [
        ("Song Name (Official Video)", "The Band", "song name|theband"),
        ("The Band - Song Name | Official Music Video", "The Band", "song name|theband"),
        ("Song Name - Live at Wembley 1986", "The Band", "song name|theband"),
        ("Song Name [HD] (Lyrics)", "TheBandVEVO", "song name|theband"),
        ("Sóng Name ft. Guest - Remastered 2011", "The Band feat. X", "song name|theband"),
        ("Song Name 4K", "The Band - Topic", "song name|theband"),
        ("Live Forever", "Oasis", "live forever|oasis"),
        ("Song Two", "The Band", "song two|theband"),
        ("(Official Video)", "The Band", ""),
    ],
)
def test_song_key(title, artist, key):
    assert song_key(title, artist) == key


def test_the_planted_set_merges_every_version_and_no_different_song():
    result = measure(songs=100, seed=3)
    assert result["recall"] == 1.0, result["missed"][:3]
    assert result["hard_false_merge_rate"] == 0.0, result["hard_merged"][:3]
    assert result["false_merge_rate"] < 0.02


# --------------------------------------------------------------------------- in results


def _video(music: np.ndarray, title: str, artist: str):
    video = VideoFactory(title=title, artist=artist)
    VideoVectorFactory(video=video, music=np.abs(music).astype(np.float32))
    return video


@pytest.fixture
def planted():
    """A query "Song A" by The Band; two versions of it; a song "Song B" by Others in three
    versions; 20 unrelated songs, each by an artist of its own, a bit farther away."""
    SearchSettingsFactory(max_per_artist=2, genre_boost=1.0)
    rng = np.random.default_rng(11)
    a = np.abs(rng.standard_normal(MUSIC_DIM))
    b = a + 0.3 * rng.standard_normal(MUSIC_DIM)

    def near(v, sigma=0.02):
        return v + sigma * rng.standard_normal(MUSIC_DIM)

    query = _video(a, "Song A", "The Band")
    own = [
        _video(near(a), "Song A (Official Video)", "The Band"),
        _video(near(a, 0.1), "Song A - Live at Wembley 1986", "The Band"),
    ]
    song_b = [
        _video(near(b), "Song B", "Others"),
        _video(near(b), "Song B (Lyrics)", "Others"),
        _video(near(b, 0.1), "Song B (Live)", "OthersVEVO"),
    ]
    others = [
        _video(a + 0.5 * rng.standard_normal(MUSIC_DIM), f"Other {i}", f"Solo {i}")
        for i in range(20)
    ]
    with connection.cursor() as cursor:  # rolled-back rows of earlier tests leave the graph
        cursor.execute("REINDEX INDEX vv_music_cos_hnsw")
    return query, own, song_b, others


def _params(**extra):
    return parse_params({"representation": "music", "metric": "cosine", "k": "10", **extra})


@pytest.mark.django_db
def test_the_query_versions_are_hidden_and_a_song_is_one_row(planted):
    query, own, song_b, _ = planted
    rows = similar(query, _params(), pools=("catalog",)).catalog
    assert len(rows) == 10  # k rows still come back
    ids = {r.video.pk for r in rows}
    assert not ids & {v.pk for v in own}
    b_rows = [r for r in rows if r.video.pk in {v.pk for v in song_b}]
    assert len(b_rows) == 1
    assert {v.video.pk for v in b_rows[0].versions} | {b_rows[0].video.pk} == {v.pk for v in song_b}
    assert [r.rank for r in rows] == list(range(1, 11))


@pytest.mark.django_db
def test_the_toggle_shows_every_version(planted):
    query, own, song_b, _ = planted
    rows = similar(query, _params(versions="all", max_per_artist="100"), pools=("catalog",))
    ids = {r.video.pk for r in rows.catalog}
    assert {v.pk for v in own} <= ids and {v.pk for v in song_b} <= ids
    assert all(not r.versions for r in rows.catalog)


def test_a_bad_toggle_value_names_the_parameter():
    with pytest.raises(InvalidParams) as exc:
        parse_params({"versions": "some"})
    assert "versions" in exc.value.errors


@pytest.mark.django_db
def test_api_versions(client, planted):
    query, own, song_b, _ = planted
    url = f"/api/videos/{query.pk}/similar/?representation=music&metric=cosine&k=10"
    body = client.get(url).json()
    assert body["versions"] == "collapse" and len(body["matches"]) == 10
    folded = [m for m in body["matches"] if m["versions"]]
    assert len(folded) == 1 and len(folded[0]["versions"]) == 2
    assert {"id", "title"} <= set(folded[0]["versions"][0])
    assert not {m["video"]["id"] for m in body["matches"]} & {v.pk for v in own}

    every = client.get(url + "&versions=all&max_per_artist=100").json()
    assert {v.pk for v in own} <= {m["video"]["id"] for m in every["matches"]}

    bad = client.get(url + "&versions=maybe")
    assert bad.status_code == 400 and "versions" in bad.json()["errors"]


@pytest.mark.django_db
def test_results_page_shows_versions_behind_a_details_element(client, planted):
    query, own, song_b, _ = planted
    url = reverse("search:results", args=[query.pk]) + "?representation=music&metric=cosine"
    html = client.get(url).content.decode()
    assert "+2 versions" in html and "<details" in html
    assert "Song A (Official Video)" not in html.split('id="catalog-matches"')[1]
    every = client.get(url + "&versions=all&max_per_artist=100").content.decode()
    assert "Song A (Official Video)" in every and "+2 versions" not in every
    assert client.get(url + "&versions=nope").status_code == 400


@pytest.mark.django_db
def test_the_list_is_ranked_k_long_first_and_longer_only_when_versions_fold(planted, monkeypatch):
    """A longer list makes the k-NN pool 3x as large: only when needed."""
    query, *_ = planted
    lengths: list[int] = []  # the list length asked of each ranking
    real_ranked = selectors._ranked

    def ranked(query, params, pool, genre, wanted, cap):
        lengths.append(wanted)
        return real_ranked(query, params, pool, genre, wanted, cap)

    monkeypatch.setattr(selectors, "_ranked", ranked)

    def knn_statements(video) -> int:
        lengths.clear()
        rows = similar(video, _params(k="5"), pools=("catalog",)).catalog
        assert len(rows) == 5
        assert lengths[0] == 5  # k first
        return len(lengths)

    # A cluster of its own, six different songs: nothing folds in a member's top 5.
    rng = np.random.default_rng(5)
    c = 10 + np.abs(rng.standard_normal(MUSIC_DIM))
    cluster = [
        _video(c + 0.05 * rng.standard_normal(MUSIC_DIM), f"Tune {i}", f"Band {i}")
        for i in range(6)
    ]
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX vv_music_cos_hnsw")
    assert knn_statements(cluster[0]) == 1
    # The query's own versions and song B's versions fold within its top 5: ranked again.
    assert knn_statements(query) == 2
