"""Artist variety (at most N results per artist, after the boost) and result filters (genre,
duration, music tags) in the one-statement k-NN search."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from features.models import MUSIC_TAG_COUNT
from search.forms import InvalidParams, parse_params
from search.models import SearchSettings
from search.ranking import InvalidSearchParameter, find_similar
from search.selectors import similar
from search.tags import TAG_FILTER_MIN, parse_tags, positions
from tests.factories import (
    GenreFactory,
    SearchSettingsFactory,
    VideoFactory,
    VideoFeaturesFactory,
    VideoVectorFactory,
)
from tests.search import pool_limits, statements_sent

pytestmark = pytest.mark.django_db

DIM = 40


def _video(code: np.ndarray, *, tags: dict[str, float] | None = None, **fields):
    """A ready catalog video with this code (search 'code', cosine) and, with ``tags``, mean
    music tags holding those probabilities (0.02 elsewhere)."""
    video = VideoFactory(**fields)
    VideoVectorFactory(video=video, code=np.asarray(code, np.float32))
    vector = np.full(MUSIC_TAG_COUNT, 0.02, np.float32)
    for name, p in (tags or {}).items():
        vector[positions(parse_tags(name))[0]] = p
    VideoFeaturesFactory(video=video, with_music=True, music_tags=vector)
    return video


@pytest.fixture
def crowd():
    """A query; 10 near-identical videos by one artist (nearest of all); 20 others, each by
    an artist of its own, a bit farther away."""
    SearchSettingsFactory(max_per_artist=2, genre_boost=0.8)
    rng = np.random.default_rng(7)
    base = rng.standard_normal(DIM).astype(np.float32)
    query = _video(base, artist="Query Artist", title="query")
    same = [
        _video(base + 0.01 * rng.standard_normal(DIM), artist="The Clones", title=f"clone {i}")
        for i in range(10)
    ]
    others = [
        _video(base + 0.3 * rng.standard_normal(DIM), artist=f"Solo {i}", title=f"other {i}")
        for i in range(20)
    ]
    # Rows of earlier tests' rolled-back transactions (the same seeds: exact duplicates) stay
    # in a reused test database's HNSW graph until vacuumed and can crowd a single pass.
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX vv_code_cos_hnsw")
    return query, same, others


def _search(query, **kwargs):
    kwargs.setdefault("boost", 1.0)
    return find_similar(query, representation="code", metric="cosine", k=10, **kwargs)


def test_k_results_come_back_with_at_most_n_from_one_artist(crowd):
    query, same, _ = crowd
    uncapped = _search(query)
    assert all(m.video.artist == "The Clones" for m in uncapped)  # the crowd fills the list

    for cap in (1, 2, 3):
        matches = _search(query, max_per_artist=cap)
        assert len(matches) == 10
        artists = [m.video.artist for m in matches]
        assert artists.count("The Clones") == cap
        # The ones kept are that artist's nearest, and the list is still nearest first.
        assert [m.video.pk for m in matches[:cap]] == [m.video.pk for m in uncapped[:cap]]
        assert [m.rank for m in matches] == list(range(1, 11))
        assert matches == sorted(matches, key=lambda m: (m.boosted_distance, m.distance))


def test_the_cap_is_case_insensitive_and_skips_videos_without_an_artist(crowd):
    query, same, _ = crowd
    same[0].artist = "THE CLONES  "
    same[0].save()
    for video in same[5:]:
        video.artist = ""
        video.save()
    matches = _search(query, max_per_artist=1)
    kept = [m.video for m in matches]
    assert sum(v.artist.strip().lower() == "the clones" for v in kept) == 1
    assert {v.pk for v in same[5:]} <= {v.pk for v in kept}  # no artist: never capped together


def test_the_query_artist_counts_like_any_other(crowd):
    query, _, others = crowd
    for video in others[:5]:
        video.artist = "query artist"
        video.save()
    matches = _search(query, max_per_artist=2)
    assert sum(m.video.artist.lower() == "query artist" for m in matches) <= 2


def test_the_cap_applies_after_the_boost_re_rank(crowd):
    query, same, others = crowd
    rock, jazz = GenreFactory(name="Rock"), GenreFactory(name="Jazz")
    query.genre = rock
    query.save()
    # The artist's two farthest clones are boosted (same genre): they must be the two kept.
    by_distance = [m.video for m in _search(query, exact=True) if m.video.artist == "The Clones"]
    far = by_distance[-2:]
    for video in same:
        video.genre = rock if video in far else jazz
        video.save()
    matches = _search(query, boost=0.1, max_per_artist=2)
    kept = [m.video.pk for m in matches if m.video.artist == "The Clones"]
    assert sorted(kept) == sorted(v.pk for v in far)
    assert len(matches) == 10


def test_the_settings_default_and_a_per_request_override(crowd):
    query, _, _ = crowd
    params = parse_params({"representation": "code", "metric": "cosine", "k": "10", "boost": "1"})
    found = similar(query, params, pools=("catalog",))
    assert found.params.max_per_artist == 2
    assert [r.video.artist for r in found.catalog].count("The Clones") == 2
    assert len(found.catalog) == 10

    SearchSettingsFactory(max_per_artist=4)
    SearchSettings.forget_cached()
    found = similar(query, params, pools=("catalog",))
    assert [r.video.artist for r in found.catalog].count("The Clones") == 4

    override = parse_params({**_base(), "max_per_artist": "100"})
    found = similar(query, override, pools=("catalog",))
    assert [r.video.artist for r in found.catalog].count("The Clones") == 10


def _base() -> dict:
    return {"representation": "code", "metric": "cosine", "k": "10", "boost": "1"}


def test_a_pool_filled_by_one_artist_is_widened_so_k_still_come_back():
    SearchSettingsFactory(max_per_artist=1)
    rng = np.random.default_rng(3)
    base = rng.standard_normal(DIM).astype(np.float32)
    query = _video(base, artist="Q")
    for i in range(120):  # more than the pool of k x 10 = 50 for k = 5
        _video(base + 0.01 * rng.standard_normal(DIM), artist="Prolific", title=f"p{i}")
    solos = [_video(base + 0.5 * rng.standard_normal(DIM), artist=f"S{i}") for i in range(6)]
    matches = find_similar(
        query, representation="code", metric="cosine", k=5, boost=1.0, max_per_artist=1,
        exact=True,
    )  # fmt: skip
    assert len(matches) == 5
    assert [m.video.artist for m in matches].count("Prolific") == 1
    assert {m.video.pk for m in matches[1:]} <= {v.pk for v in solos}


def test_a_capped_search_is_one_statement_and_uses_the_hnsw_index(crowd):
    query, _, _ = crowd
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    with statements_sent() as sent:
        matches = _search(
            query, max_per_artist=2, min_duration=30, max_duration=600, tags=("rock",)
        )
    assert matches == [] or len(matches) <= 10
    searches = [(sql, params) for sql, params in sent if "<=>" in sql]
    assert len(searches) == 1, [sql[:80] for sql, _ in sent]
    statement, params = searches[0]
    assert "row_number() OVER (PARTITION BY" in statement
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using vv_code_cos_hnsw" in plan, plan


# --------------------------------------------------------------------------- filters


def test_duration_filter_returns_only_videos_in_range_and_still_k(crowd):
    query, same, others = crowd
    for i, video in enumerate([*same, *others]):
        video.duration_seconds = 60.0 + 10 * i  # 60 .. 350
        video.save()
    matches = _search(query, min_duration=100, max_duration=250)
    assert len(matches) == 10
    assert all(100 <= m.video.duration_seconds <= 250 for m in matches)
    only_long = _search(query, min_duration=300)
    assert only_long and all(m.video.duration_seconds >= 300 for m in only_long)
    assert len(only_long) == 6  # 300, 310, …, 350: all there are


def test_tag_filter_keeps_videos_whose_tag_reaches_the_threshold(crowd):
    query, same, others = crowd
    guitar = others[:12]
    for video in guitar:
        video.features.music_tags = _tags({"guitar": 0.4, "rock": 0.3})
        video.features.save()
    others[12].features.music_tags = _tags({"guitar": TAG_FILTER_MIN - 0.01})
    others[12].features.save()
    matches = _search(query, tags=("guitar",))
    assert len(matches) == 10
    assert {m.video.pk for m in matches} <= {v.pk for v in guitar}
    both = _search(query, tags=parse_tags("Guitar, ROCK"))
    assert {m.video.pk for m in both} <= {v.pk for v in guitar}
    assert _search(query, tags=("guitar", "jazz")) == []


def test_tag_filter_skips_tags_of_another_checkpoint(crowd):
    query, _, others = crowd
    video = others[0]
    video.features.music_tags = _tags({"guitar": 0.9})
    video.features.music_model = "MTT_musicnn"  # another tag order
    video.features.save()
    assert video.pk not in {m.video.pk for m in _search(query, tags=("guitar",))}


def test_genre_filter_combines_with_the_cap(crowd):
    query, same, others = crowd
    jazz = GenreFactory(name="Jazz")
    for video in [*same[:6], *others[:6]]:
        video.predicted_genre = jazz
        video.save()
    matches = _search(query, genre=jazz, max_per_artist=2)
    assert len(matches) == 8  # 2 clones + 6 solo artists: every jazz video the cap allows
    assert all(m.video.predicted_genre_id == jazz.pk for m in matches)


def test_a_genre_filter_on_the_query_genre_needs_no_boost_pool(crowd):
    """Every candidate of the query's own genre is boosted alike, so the order is the
    distance's and a pool of 2k gives the answer the k x 10 pool of a boosted search gives."""
    query, same, others = crowd
    rock, jazz = GenreFactory(name="Rock"), GenreFactory(name="Jazz")
    query.genre = rock
    query.save()
    for i, video in enumerate([*same, *others]):
        video.genre = rock if i % 3 else jazz
        video.save()
    kwargs = {"genre": rock, "boost": 0.5, "max_per_artist": 2}
    with statements_sent() as sent:
        matches = _search(query, **kwargs)
    assert pool_limits(sent) == [2 * 10]
    exact = _search(query, exact=True, **kwargs)
    assert [m.video.pk for m in matches] == [m.video.pk for m in exact]
    assert len(matches) == 10 and all(m.video.genre_id == rock.pk for m in matches)
    assert [m.video.artist for m in matches].count("The Clones") == 2

    # Another genre than the query's: a pool of 2k holds every one of the 10 jazz videos, so
    # nothing beyond it could change the answer.
    with statements_sent() as sent:
        found = _search(query, genre=jazz, boost=0.5, max_per_artist=2)
    assert pool_limits(sent) == [2 * 10]
    assert len(found) == 8  # 10 jazz videos, 4 of them clones of which the cap keeps 2
    assert all(m.video.genre_id == jazz.pk for m in found)


def test_a_capped_pool_without_boost_widens_until_the_cap_leaves_k():
    SearchSettingsFactory(max_per_artist=1)
    rng = np.random.default_rng(5)
    base = rng.standard_normal(DIM).astype(np.float32)
    query = _video(base, artist="Q")
    for i in range(60):  # fills the first pools (k x 2 = 10, then 50)
        _video(base + 0.01 * rng.standard_normal(DIM), artist="Prolific", title=f"p{i}")
    solos = [_video(base + 0.5 * rng.standard_normal(DIM), artist=f"S{i}") for i in range(6)]
    with statements_sent() as sent:
        matches = find_similar(
            query, representation="code", metric="cosine", k=5, boost=1.0, max_per_artist=1,
            exact=True,
        )  # fmt: skip
    assert pool_limits(sent) == [10, 50, 250]
    assert [m.video.artist for m in matches].count("Prolific") == 1
    assert {m.video.pk for m in matches[1:]} <= {v.pk for v in solos}


def _tags(values: dict[str, float]) -> np.ndarray:
    vector = np.full(MUSIC_TAG_COUNT, 0.02, np.float32)
    for name, p in values.items():
        vector[positions(parse_tags(name))[0]] = p
    return vector


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"max_per_artist": 0}, "max_per_artist"),
        ({"max_per_artist": 101}, "max_per_artist"),
        ({"max_per_artist": 2.5}, "max_per_artist"),
        ({"min_duration": -1}, "min_duration"),
        ({"max_duration": float("nan")}, "max_duration"),
        ({"min_duration": 200, "max_duration": 100}, "min_duration"),
        ({"tags": ("gutar",)}, "tags"),
    ],
)
def test_find_similar_refuses_bad_filters_naming_them(crowd, kwargs, param):
    query, _, _ = crowd
    with pytest.raises(InvalidSearchParameter) as caught:
        _search(query, **kwargs)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("data", "param", "says"),
    [
        ({"max_per_artist": "0"}, "max_per_artist", "between 1 and 100"),
        ({"max_per_artist": "101"}, "max_per_artist", "between 1 and 100"),
        ({"max_per_artist": "two"}, "max_per_artist", "whole number"),
        ({"min_duration": "abc"}, "min_duration", "number of seconds"),
        ({"max_duration": "inf"}, "max_duration", "between 0"),
        ({"min_duration": "300", "max_duration": "100"}, "min_duration", "max_duration"),
        ({"tags": "guitar,gutiar"}, "tags", "'guitar'"),
        ({"tags": "zzzz"}, "tags", "/api/tags/"),
    ],
)
def test_the_form_names_each_bad_filter(data, param, says):
    with pytest.raises(InvalidParams) as caught:
        parse_params(data)
    assert param in caught.value.errors
    assert says in caught.value.errors[param]


def test_the_form_reads_filters_and_keeps_them_in_the_query_string():
    params = parse_params(
        {"max_per_artist": "3", "min_duration": "60", "tags": "guitar, female VOCALISTS"}
    )
    assert params.max_per_artist == 3
    assert params.min_duration == 60.0 and params.max_duration is None
    assert params.tags == ("guitar", "female vocalists")
    query = params.querystring()
    assert "max_per_artist=3" in query and "tags=guitar%2Cfemale+vocalists" in query
    assert "max_duration" not in query


def test_a_duration_range_is_planned_with_its_values(crowd):
    """A prepared statement's generic plan guesses 0.5 % of rows pass a range between two
    parameters and would scan the whole catalog; a duration filter is planned every time."""
    query, _, _ = crowd
    with statements_sent() as sent:
        _search(query, min_duration=30, max_duration=600)
        _search(query, tags=("rock",), max_per_artist=2)
    modes = [params["plan_cache"] for sql, params in sent if "plan_cache_mode" in sql]
    assert modes == ["force_custom_plan", "auto"]
