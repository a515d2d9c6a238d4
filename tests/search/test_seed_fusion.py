"""Rank fusion of several seeds in one statement (search.seeds.fused_statement) gives exactly
what one k-NN statement per seed gave (the implementation it replaced, kept here as the
reference), and sends one k-NN statement for any number of seeds, served by the HNSW index."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from catalog.models import Video, VideoStatus
from search import seeds
from search.choices import Pool
from search.models import CODE_DIM, SearchSettings, VideoVector
from search.ranking import nearest_rows
from tests.factories import VideoFactory
from tests.search import statements_sent

pytestmark = pytest.mark.django_db


def _add(codes, **fields) -> list[int]:
    """Videos with these code vectors, in two bulk inserts (factories: 2 s per test)."""
    videos = Video.objects.bulk_create([VideoFactory.build(**fields) for _ in codes])
    VideoVector.objects.bulk_create(
        VideoVector(video=video, code=np.asarray(code, dtype=np.float32))
        for video, code in zip(videos, codes, strict=True)
    )
    return [video.pk for video in videos]


@pytest.fixture
def catalog():
    """Four loose clusters of ready catalog videos, and near each cluster centre videos the
    search must skip (processing, failed, past queries), so an index pass comes back with rows
    filtered out and the iterative scan has to go on. Returns the ids of the ready ones."""
    rng = np.random.default_rng(11)
    centres = rng.normal(0, 1, (4, CODE_DIM))
    ready = _add([centres[i % 4] + rng.normal(0, 0.5, CODE_DIM) for i in range(64)])
    for i, fields in enumerate(
        [{"status": VideoStatus.EXTRACTING}, {"status": VideoStatus.FAILED}, {"is_query": True}]
    ):
        _add([centres[j % 4] + rng.normal(0, 0.1, CODE_DIM) for j in range(i, 24, 3)], **fields)
    _reindex()
    return ready


def _reindex() -> None:
    """Rows of earlier tests' rolled-back transactions stay in a reused test database's HNSW
    graphs until vacuumed and can cut a scan short (as in test_artist_cap_and_filters)."""
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX vv_code_cos_hnsw")
        cursor.execute("REINDEX INDEX vv_code_l2_hnsw")


def _reference_lists(seed_ids, representation, metric, limit, ef_search):
    """The replaced implementation: one nearest_rows statement per seed."""
    return [
        [
            (vid, dist)
            for vid, dist, *_ in nearest_rows(
                seed,
                representation=representation,
                metric=metric,
                limit=limit,
                ef_search=ef_search,
                pool=Pool.CATALOG,
            )
        ]
        for seed in seed_ids
    ]


def _reference_fused(seed_ids, representation, metric, limit, ef_search, banned):
    """The replaced search.seeds._fused, verbatim but for where its lists come from."""
    score, nearest = {}, {}
    for rows in _reference_lists(seed_ids, representation, metric, limit, ef_search):
        rank = 0
        for vid, dist in rows:
            if vid in banned or dist is None:
                continue
            rank += 1
            score[vid] = score.get(vid, 0.0) + 1.0 / (seeds.RRF_K + rank)
            nearest[vid] = min(nearest.get(vid, float("inf")), float(dist))
    order = sorted(score, key=lambda vid: (-score[vid], nearest[vid], vid))
    return [(vid, nearest[vid]) for vid in order]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize(("limit", "ef_search"), [(15, 1), (40, 100)])
def test_one_statement_returns_each_seeds_list_as_one_search_per_seed_did(
    catalog, metric, limit, ef_search
):
    seed_ids = [catalog[0], catalog[5], catalog[10], catalog[15], catalog[33]]
    got = seeds.seed_lists(seed_ids, "code", metric, limit, ef_search)
    want = _reference_lists(seed_ids, "code", metric, limit, max(ef_search, limit))
    assert got == want
    assert all(len(rows) == limit for rows in got)  # the skipped videos were skipped


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("exclude", [(), (2,)])
def test_fused_results_are_identical_to_one_search_per_seed(catalog, metric, exclude):
    seed_ids = [catalog[i] for i in (0, 1, 6, 11, 40)]
    exclude_ids = [catalog[i] for i in exclude]
    k, ef = 12, 1
    found = seeds.more_like_these(
        seed_ids, exclude_ids, representation="code", metric=metric, k=k, ef_search=ef
    )
    banned = set(seed_ids) | set(exclude_ids)
    want = k * (seeds.NEGATIVE_POOL_FACTOR if exclude_ids else 1)
    ranked = _reference_fused(seed_ids, "code", metric, want + len(banned), ef, banned)
    if exclude_ids:
        _, positive = seeds.load_seed_vectors(seed_ids, "code", "seeds")
        _, negative = seeds.load_seed_vectors(exclude_ids, "code", "exclude")
        ranked = seeds._drop_nearer_to_negatives(ranked, positive, negative, "code", metric)
    assert [(m.video.pk, m.distance) for m in found.matches] == ranked[:k]
    assert len(found.matches) == k


def test_five_seeds_are_one_knn_statement_on_the_hnsw_index(catalog):
    seed_ids = catalog[:5]
    SearchSettings.cached()  # the settings row is created on first use: not what is counted
    with statements_sent() as sent:
        found = seeds.more_like_these(seed_ids, representation="code", metric="cosine", k=10)
    assert len(found.matches) == 10
    knn = [(sql, params) for sql, params in sent if "<=>" in sql]
    assert len(knn) == 1, [sql[:80] for sql, _ in sent]
    # Loading the seeds, the fused k-NN lists (with its SET LOCALs, one pipelined round trip),
    # the matches' rows.
    assert len(sent) == 4, "\n".join(sql[:100] for sql, _ in sent)
    statement, params = knn[0]
    assert "LATERAL" in statement
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using vv_code_cos_hnsw" in plan, plan


def test_a_short_single_pass_is_run_again_with_iterative_scans():
    """A seed whose nearest neighbours are mostly unready: one pass over the graph (ef_search
    20) holds too few ready videos for the LIMIT, so the statement runs again with relaxed
    iterative scans, and the lists are still what one search per seed returned."""
    rng = np.random.default_rng(4)
    centre = rng.normal(0, 1, CODE_DIM)
    (seed,) = _add([centre])
    _add([centre + rng.normal(0, 0.01, CODE_DIM) for _ in range(15)], status=VideoStatus.EXTRACTING)
    _add([centre + rng.normal(0, 0.6, CODE_DIM) for _ in range(30)])
    _reindex()
    with connection.cursor() as cursor:
        # A table this small is otherwise sorted exactly, without the index (and its passes).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    with statements_sent() as sent:
        got = seeds.seed_lists([seed], "code", "cosine", 10, 20)
    assert len([sql for sql, _ in sent if "LATERAL" in sql]) == 2
    iterative = [params["iterative"] for sql, params in sent if "hnsw.iterative_scan" in sql]
    assert iterative == ["off", "relaxed_order"]
    assert got == _reference_lists([seed], "code", "cosine", 10, 20)
    assert len(got[0]) == 10


def test_a_full_single_pass_is_the_answer(catalog):
    with statements_sent() as sent:
        got = seeds.seed_lists(catalog[:5], "code", "cosine", 12, 100)
    iterative = [params["iterative"] for sql, params in sent if "hnsw.iterative_scan" in sql]
    assert iterative == ["off"]
    assert got == _reference_lists(catalog[:5], "code", "cosine", 12, 100)
