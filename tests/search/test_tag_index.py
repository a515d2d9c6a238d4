"""The tag search through the per-tag indexes (search.tags.tag_search) returns exactly what
ranking every tagged video returns, whichever of its two statements answers, and the indexes
serve it."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import VideoStatus
from features.models import MUSIC_TAG_COUNT, VideoFeatures
from search import tags as tag_module
from search.tags import (
    COVERING_INDEX,
    candidates_statement,
    index_name,
    tag_search,
    vocabulary,
)
from tests.factories import VideoFactory

pytestmark = pytest.mark.django_db

N_VIDEOS = 120
GROUPS = 4  # each group carries 3 tags strongly; values on a 0.05 grid, so scores tie often


@pytest.fixture
def tagged():
    """120 videos: most ready catalog videos, some queries, unready, another checkpoint's or
    without tags, which never come back. Returns the tag matrix of the ready catalog videos
    by id."""
    rng = np.random.default_rng(3)
    strong = [rng.choice(MUSIC_TAG_COUNT, 3, replace=False) for _ in range(GROUPS)]
    eligible: dict[int, np.ndarray] = {}
    rows = []
    for i in range(N_VIDEOS):
        kind = "catalog" if i % 6 else ["query", "pending", "other model", "no tags"][i // 6 % 4]
        video = VideoFactory(
            is_query=kind == "query",
            status=VideoStatus.PENDING if kind == "pending" else VideoStatus.READY,
        )
        values = np.round(rng.uniform(0, 0.1, MUSIC_TAG_COUNT) * 20) / 20
        values[strong[i % GROUPS]] = np.round(rng.uniform(0.2, 0.7, 3) * 20) / 20
        if kind in ("query", "pending") and i < 12:
            values[:] = 0.95  # would top every list if they counted
        rows.append(
            VideoFeatures(
                video=video,
                segment_count=1,
                audio_mean=np.zeros(68, np.float32),
                visual_mean=np.zeros(354, np.float32),
                music_mean=None if kind == "no tags" else np.zeros(200, np.float32),
                music_tags=None if kind == "no tags" else values.astype(np.float32),
                music_model="MTT_musicnn" if kind == "other model" else "MSD_musicnn",
            )
        )
        if kind == "catalog":
            eligible[video.pk] = values.astype(np.float32)
    VideoFeatures.objects.bulk_create(rows)
    return eligible, strong


def _queries(strong) -> list[tuple[str, ...]]:
    names = vocabulary()
    same_group = tuple(names[p] for p in strong[0][:2])
    across = (names[strong[1][0]], names[strong[2][0]])
    three = (
        names[strong[0][2]],
        names[strong[3][1]],
        names[int(np.setdiff1d(range(50), np.concatenate(strong))[0])],
    )
    return [(names[strong[0][0]],), same_group, across, three, (names[0], names[49])]


@pytest.mark.parametrize("factor", [2, 10])
def test_the_index_path_returns_exactly_the_full_ranking(tagged, monkeypatch, factor):
    """With two candidates per result (factor 2) the first statement is rarely final and the
    floor statement answers; with 10 it mostly is. Either way: the exact ranking, ties by id,
    and the scores are the mean probabilities."""
    eligible, strong = tagged
    monkeypatch.setattr(tag_module, "CANDIDATE_FACTOR", factor)
    statements = []
    for tags in _queries(strong):
        for k in (1, 5, 10):
            expected = tag_search(tags, k, exact_scan=True)
            with CaptureQueriesContext(connection) as queries:
                got = tag_search(tags, k)
            statements.append(_kind(queries))
            assert [m.video.pk for m in got] == [m.video.pk for m in expected], (tags, k)
            at = tag_module.positions(tags)
            for match in got:
                probabilities = eligible[match.video.pk][at]
                assert match.score == pytest.approx(float(probabilities.mean()), abs=1e-6)
                assert list(match.tag_scores.values()) == pytest.approx(probabilities.tolist())
            # The full ranking is the brute force over the eligible videos: the same scores
            # (the order within a tie follows pgvector's float32 sums, the same in both paths).
            scores = sorted(float(v[at].astype(np.float64).mean()) for v in eligible.values())
            assert [m.score for m in expected] == pytest.approx(scores[::-1][:k], abs=1e-6)
    # The floor statement answered (a wrong floor would show above), and with the default
    # factor the first statement mostly suffices.
    if factor == 2:
        assert statements.count("floor") >= 5, statements
    else:
        assert statements.count("first") > len(statements) / 2, statements


def _kind(queries: CaptureQueriesContext) -> str:
    """Which statements answered: the first alone, then the floor one, or then a full scan."""
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) in (1, 2) and sql[0].startswith("WITH lists"), sql
    if len(sql) == 1:
        return "first"
    return "floor" if " >= " in sql[1] else "scan"


def test_a_clear_winner_is_answered_by_the_first_statement(tagged):
    eligible, strong = tagged
    names = vocabulary()
    with CaptureQueriesContext(connection) as queries:
        got = tag_search((names[strong[0][0]],), 3)
    assert len(queries) == 1 and len(got) == 3


def test_fewer_tagged_videos_than_k_come_back_all(tagged):
    eligible, strong = tagged
    got = tag_search((vocabulary()[strong[0][0]],), 100)
    assert len(got) == len(eligible)
    assert {m.video.pk for m in got} == set(eligible)


def test_each_tag_list_is_a_scan_of_that_tags_index(tagged):
    """The list's ORDER BY must read exactly like the index expression, else the planner
    cannot use the index (seq scans are switched off so that only a match can avoid one)."""
    names = vocabulary()
    tags = (names[7], names[31])
    statement = candidates_statement(tuple(tag_module.positions(tags)), 100, 10)
    params = {
        "weights": "[" + ",".join(repr(w) for w in tag_module.weights(tags)) + "]",
        "model": "MSD_musicnn",
        "status": VideoStatus.READY.value,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {index_name(7)}" in plan, plan
    assert f"Index Scan using {index_name(31)}" in plan, plan


def test_every_tag_has_its_index_and_the_tag_vectors_a_covering_one():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'features_videofeatures' AND indexname LIKE 'search%%'"
        )
        found = dict(cursor.fetchall())
    assert sorted(found) == sorted(
        [index_name(p) for p in range(MUSIC_TAG_COUNT)] + [COVERING_INDEX]
    )
    assert "[50]) DESC NULLS LAST" in found[index_name(49)], found[index_name(49)]
    assert "INCLUDE (video_id, music_tags)" in found[COVERING_INDEX], found[COVERING_INDEX]
