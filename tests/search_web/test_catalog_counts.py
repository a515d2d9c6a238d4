"""The catalog counts the pages show: one GROUP BY, kept until the catalog changes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Genre
from search import selectors
from tests.factories import VideoFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_conn")]


@pytest.fixture
def cache_on(settings):
    settings.SEARCH_RESULT_CACHE_SECONDS = 60


def _counts_in(html: str) -> tuple[str, str]:
    all_chip = html.split("All (", 1)[1].split(")", 1)[0]
    rock_chip = html.split("Rock (", 1)[1].split(")", 1)[0]
    return all_chip, rock_chip


def test_counts_match_the_catalog():
    rock, jazz = Genre.objects.get(slug="rock"), Genre.objects.get(slug="jazz")
    VideoFactory.create_batch(3, genre=rock)
    VideoFactory(genre=jazz)
    VideoFactory(genre=None)
    VideoFactory(genre=rock, is_query=True)  # a user's query: not the catalog
    counts = selectors.catalog_counts()
    assert counts.total == 5
    assert counts.by_genre[rock.pk] == 3 and counts.by_genre[jazz.pk] == 1
    by_slug = {g.slug: g.catalog_count for g in selectors.genres_counted()}
    assert by_slug["rock"] == 3 and by_slug["jazz"] == 1 and by_slug["blues"] == 0


@pytest.mark.usefixtures("cache_on")
def test_explore_counts_once_per_catalog_change(client, django_capture_on_commit_callbacks):
    rock = Genre.objects.get(slug="rock")
    VideoFactory.create_batch(30, genre=rock)
    first = client.get("/explore/?genre=rock&page=2")
    assert first.status_code == 200
    assert _counts_in(first.content.decode()) == ("30", "30")
    assert "page 2 of 2" in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/explore/?genre=rock&page=2")
    assert again.content == first.content
    assert not [q for q in queries if "COUNT(" in (q["sql"] or "").upper()], "counted again"
    with django_capture_on_commit_callbacks(execute=True):
        VideoFactory(genre=rock)
    assert _counts_in(client.get("/explore/").content.decode()) == ("31", "31")


def test_explore_uses_the_order_index(client):
    VideoFactory.create_batch(5)
    with connection.cursor() as cursor:
        # Few rows here: make every alternative look expensive; a Sort only stays in the plan
        # if no index gives this order.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM catalog_video WHERE NOT is_query "
            "ORDER BY artist, title, id LIMIT 24 OFFSET 480"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "catalog_video_order" in plan and "Sort" not in plan, plan
