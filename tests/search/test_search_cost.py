"""What one search costs the database: one round trip, a pool only as large as the boost needs,
and the search settings read once per CACHE_SECONDS, not once per search."""

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from search.materialize import refit_and_materialize_all
from search.models import SearchSettings
from search.ranking import find_similar
from tests.factories import (
    GenreFactory,
    SearchSettingsFactory,
    VideoFactory,
    VideoVectorFactory,
)
from tests.search import (
    add_video,
    ensure_definitions,
    make_catalog,
    pool_limits,
    raw_features,
    statements_sent,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PREPARE_THRESHOLD = 5  # psycopg's default, set in mvsite/settings.py: prepared on the 6th run
PRINT_THRESHOLD = (
    "from django.conf import settings; "
    "print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])"
)


@pytest.fixture
def catalog():
    ensure_definitions()
    rock, jazz = GenreFactory(name="Rock"), GenreFactory(name="Jazz")
    videos, _ = make_catalog(12, genre=jazz)
    query = add_video(raw_features(1, seed=5)[0], genre=jazz, predicted_genre=rock)
    refit_and_materialize_all()
    SearchSettingsFactory()  # the row exists, as after the migrations
    return query, videos


@contextmanager
def search_settings_sent() -> Iterator[list[dict]]:
    """The hnsw/index settings each search sent, as dicts, in order."""
    settings_sent: list[dict] = []
    with statements_sent() as sent:
        yield settings_sent
    settings_sent.extend(params for sql, params in sent if "set_config('hnsw.ef_search'" in sql)


def test_a_video_search_is_one_round_trip_and_its_results_need_no_more_queries(catalog):
    query, _ = catalog
    SearchSettings.cached()
    with CaptureQueriesContext(connection) as captured:
        matches = find_similar(query, representation="both", metric="cosine", k=5)
        # What result pages and the API read from each match: no lazy loads behind them.
        shown = [
            (m.video.title, m.video.genre.name, m.video.predicted_genre, m.score) for m in matches
        ]
    assert len(shown) == 5
    assert {g for _, g, _, _ in shown} == {"Jazz"}
    # set_config(hnsw.*) and the search statement, pipelined together.
    assert len(captured.captured_queries) == 2, [q["sql"][:80] for q in captured]
    assert "set_config('hnsw.ef_search'" in captured.captured_queries[0]["sql"]


def test_the_pool_is_fetched_only_when_the_boost_can_reorder(catalog):
    query, _ = catalog  # a query of predicted genre rock among 12 jazz videos
    SearchSettingsFactory(candidate_pool_factor=12)
    with statements_sent() as sent:
        find_similar(query, representation="both", metric="cosine", k=5, boost=0.8)
    assert pool_limits(sent) == [60]  # pool k x 12, re-ranked in the same statement
    with statements_sent() as sent:
        find_similar(query, representation="both", metric="cosine", k=5, boost=1.0)
    assert pool_limits(sent) == [5]  # boost off: the index order is the answer
    vector = np.ones(422, dtype=np.float32)
    with statements_sent() as sent:
        find_similar(vector, representation="both", metric="cosine", k=5, boost=0.8)
    assert pool_limits(sent) == [5]  # a vector has no genre to boost


def _on_a_circle(distance: float, axis: int) -> np.ndarray:
    """A unit 40-d code at this cosine distance from the first axis."""
    code = np.zeros(40, np.float32)
    code[0], code[axis] = 1.0 - distance, np.sqrt(1.0 - (1.0 - distance) ** 2)
    return code


def test_a_filtered_boosted_pool_grows_only_while_a_video_beyond_it_could_overtake():
    rock, jazz = GenreFactory(name="Rock"), GenreFactory(name="Jazz")
    SearchSettingsFactory(candidate_pool_factor=10)  # every video lasts 60 s (the factory)
    query = VideoFactory(genre=rock)
    VideoVectorFactory(video=query, code=_on_a_circle(0.0, 1))
    distances = {}
    for i in range(30):  # jazz at cosine distance 0.010, 0.011, … 0.039
        video = VideoFactory(genre=jazz)
        distances[video.pk] = (0.010 + 0.001 * i, False)
        VideoVectorFactory(video=video, code=_on_a_circle(distances[video.pk][0], 1 + i % 39))
    rock_video = VideoFactory(genre=rock)  # the 21st nearest: beyond a pool of 2k = 20
    distances[rock_video.pk] = (0.0305, True)
    VideoVectorFactory(video=rock_video, code=_on_a_circle(0.0305, 39))
    with connection.cursor() as cursor:  # rows of earlier tests' rolled-back transactions
        cursor.execute("REINDEX INDEX vv_code_cos_hnsw")

    def expected(boost: float) -> list[int]:
        boosted = {pk: d * (boost if same else 1.0) for pk, (d, same) in distances.items()}
        return sorted(boosted, key=boosted.get)[:10]

    # boost 0.5: the 10th of the pool ranks at 0.019, but anything beyond it could rank from
    # 0.5 x 0.029: the pool grows, and the rock video (0.0305 x 0.5) comes in 7th.
    search = functools.partial(
        find_similar, query, representation="code", metric="cosine", k=10, max_duration=600
    )
    with statements_sent() as sent:
        found = search(boost=0.5)
    assert pool_limits(sent) == [20, 100]
    assert [m.video.pk for m in found] == expected(0.5)
    assert found[6].video == rock_video
    # boost 0.9: beyond the pool nothing ranks before 0.9 x 0.029 > 0.019: the pool settles.
    with statements_sent() as sent:
        found = search(boost=0.9)
    assert pool_limits(sent) == [20]
    assert [m.video.pk for m in found] == expected(0.9)
    assert rock_video not in [m.video for m in found]
    # Without a filter the walk is ef_search long whatever the pool: the whole pool at once.
    with statements_sent() as sent:
        found = find_similar(query, representation="code", metric="cosine", k=10, boost=0.5)
    assert pool_limits(sent) == [100]
    assert [m.video.pk for m in found] == expected(0.5)


def test_settings_are_read_once_per_cache_period_and_a_save_is_seen_at_once(catalog, monkeypatch):
    query, _ = catalog
    find_similar(query, representation="both", metric="cosine", k=3)
    with CaptureQueriesContext(connection) as captured:
        find_similar(query, representation="both", metric="cosine", k=3)
    assert not [q for q in captured if "search_searchsettings" in q["sql"]]

    settings = SearchSettings.load()
    settings.ef_search = 321
    settings.save()  # forgets the cached row in this process
    with search_settings_sent() as sent:
        find_similar(query, representation="both", metric="cosine", k=3)
    assert [s["ef"] for s in sent] == ["321"]

    # Another process's edit (here: behind the model's back) shows once the period is over.
    SearchSettings.objects.update(ef_search=222)
    find_similar(query, representation="both", metric="cosine", k=3)
    assert SearchSettings.cached().ef_search == 321
    monkeypatch.setattr(SearchSettings, "CACHE_SECONDS", 0.0)
    with search_settings_sent() as sent:
        find_similar(query, representation="both", metric="cosine", k=3)
    assert [s["ef"] for s in sent] == ["222"]


def _prepared_searches() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'WITH pool AS%%'"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_search_is_its_own_transaction_and_a_prepared_statement():
    """A web request: the hnsw settings are SET LOCAL in the search's own transaction (nothing
    stays on the connection), and the statement is psycopg's prepared statement, planned once
    per connection."""
    ensure_definitions()
    videos, _ = make_catalog(8)
    refit_and_materialize_all()
    assert not connection.in_atomic_block
    with search_settings_sent() as sent:
        matches = find_similar(
            videos[0], representation="both", metric="euclidean", k=3, ef_search=77
        )
    assert [m.rank for m in matches] == [1, 2, 3]
    assert videos[0].pk not in {m.video.pk for m in matches}
    assert [s["ef"] for s in sent] == ["77"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.ef_search")
        assert cursor.fetchone()[0] != "77", "the setting outlived the search"
    assert _prepared_searches() == []  # psycopg prepares what runs often, not a one-off

    # The same shape again: prepared on its 5th run and reused after, the same results.
    for _ in range(PREPARE_THRESHOLD):
        again = find_similar(
            videos[0], representation="both", metric="euclidean", k=3, ef_search=77
        )
        assert [m.video.pk for m in again] == [m.video.pk for m in matches]
    prepared = _prepared_searches()
    assert len(prepared) == 1, prepared
    # Its generic plan (what PostgreSQL settles on after 5 runs) still walks the HNSW graph:
    # the LIMITs are literals, so the planner knows only 3 rows are wanted.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # 8 rows: scan + sort would win on cost
        cursor.execute("SET enable_sort = off")
        cursor.execute("EXPLAIN (GENERIC_PLAN) " + prepared[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_sort")
    assert "Index Scan using vv_both_l2_hnsw" in plan, plan
    # Another k is another shape; a new connection prepares afresh.
    for _ in range(PREPARE_THRESHOLD + 1):
        find_similar(videos[0], representation="both", metric="euclidean", k=4)
    assert len(_prepared_searches()) == 2
    connection.close()
    for _ in range(PREPARE_THRESHOLD + 1):
        find_similar(videos[0], representation="both", metric="euclidean", k=3)
    assert len(_prepared_searches()) == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_prepare_threshold_nothing_is_prepared():
    """MVSIM_SEARCH_PREPARED_STATEMENTS=0 (a transaction-pooling PgBouncer without prepared
    statement support): the connection's prepare_threshold is None and searches still work."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT_THRESHOLD],
        cwd=ROOT,
        env={**os.environ, "MVSIM_SEARCH_PREPARED_STATEMENTS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip().splitlines()[-1] == "None", result.stdout + result.stderr
    assert settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] == 5

    ensure_definitions()
    videos, _ = make_catalog(8)
    refit_and_materialize_all()
    connection.ensure_connection()
    connection.connection.prepare_threshold = None
    try:
        for _ in range(PREPARE_THRESHOLD + 1):
            assert len(find_similar(videos[0], representation="both", metric="cosine", k=3)) == 3
        assert _prepared_searches() == []
    finally:
        connection.close()


def test_a_single_pass_that_comes_back_short_is_retried_with_iterative_scans():
    """Without a genre filter a search first walks the graph once (iterative scans off); when
    the filters leave fewer than k of those ef_search candidates it must still return k."""
    ensure_definitions()
    rng = np.random.default_rng(3)
    base = raw_features(1, seed=9)[0]
    spread = raw_features(50, seed=9).std(axis=0)
    query = add_video(base, title="query")
    # The nearest 40 are earlier user queries (another pool), the catalog lies farther out.
    for _ in range(40):
        add_video(base + 0.05 * spread * rng.standard_normal(base.shape), is_query=True)
    catalog = [
        add_video(base + 0.5 * spread * rng.standard_normal(base.shape), title=f"c{i}")
        for i in range(10)
    ]
    refit_and_materialize_all()
    exact = find_similar(query, representation="both", metric="euclidean", k=5, exact=True)
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX vv_both_l2_hnsw")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    with search_settings_sent() as sent:
        approx = find_similar(
            query, representation="both", metric="euclidean", k=5, boost=1.0, ef_search=12
        )
    assert [m.video.pk for m in approx] == [m.video.pk for m in exact]
    assert {m.video.pk for m in approx} <= {v.pk for v in catalog}
    assert [s["iterative"] for s in sent] == ["off", "relaxed_order"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_lost_its_prepared_statements_prepares_them_again():
    """A DISCARD ALL on the connection: the next search still answers, prepared anew."""
    ensure_definitions()
    videos, _ = make_catalog(8)
    refit_and_materialize_all()
    for _ in range(PREPARE_THRESHOLD + 1):
        first = find_similar(videos[0], representation="both", metric="cosine", k=3)
    assert len(_prepared_searches()) == 1
    with connection.cursor() as cursor:
        cursor.execute("DISCARD ALL")  # forgets prepared statements and session settings
    assert _prepared_searches() == []
    for _ in range(PREPARE_THRESHOLD + 1):
        again = find_similar(videos[0], representation="both", metric="cosine", k=3)
        assert [m.video.pk for m in again] == [m.video.pk for m in first]
    assert len(_prepared_searches()) == 1


def test_past_queries_are_searched_with_iterative_scans_straight_away(catalog):
    """The query pool is a small minority of the index: a single pass would nearly always
    come back short, so it is not tried (one k-NN statement, not two)."""
    query, _ = catalog
    add_video(raw_features(1, seed=6)[0], is_query=True)
    refit_and_materialize_all()
    with search_settings_sent() as sent:
        hits = find_similar(query, representation="both", metric="cosine", k=5, pool="queries")
    assert len(hits) == 1
    assert [s["iterative"] for s in sent] == ["relaxed_order"]
