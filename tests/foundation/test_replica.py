"""Searches read a database replica when DATABASE_REPLICA_URL names one (mvsite/db_routers.py).

The replica here is a second connection, its own PostgreSQL session, to the test database on
the same embedded server (Django's TEST MIRROR): the queries each connection ran tell where a
read went. The tests commit (transaction=True) because a replica sees only committed rows.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Video
from mvsite import db_routers, env
from mvsite.db_routers import REPLICA, search_alias, search_reads
from search import selectors
from search.forms import SearchParams
from search.models import Search, SearchSettings, VideoVector
from tests.factories import FeatureStatsFactory, ready_video

ROOT = Path(__file__).resolve().parents[2]
PARAMS = SearchParams(representation="both", metric="cosine", k=2, boost=1.0)


@pytest.fixture(scope="module")
def replica_alias(django_db_setup, django_db_blocker):
    """DATABASES["replica"] as settings.py makes it from DATABASE_REPLICA_URL, pointed at the
    test database (the settings of this run have no replica: every other test reads default)."""
    default = connections["default"].settings_dict
    config = copy.deepcopy(default)
    config["TEST"] = {**config["TEST"], "MIRROR": DEFAULT_DB_ALIAS}
    connections.settings[REPLICA] = config
    yield REPLICA
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


def _catalog(n: int = 4, *, changed_ago: timedelta = timedelta(hours=1)) -> list[Video]:
    FeatureStatsFactory()  # a materialised generation: explanations need it
    # The settings row is read once per process and 5 s (get_or_create: on default).
    SearchSettings.cached()
    videos = [ready_video(3) for _ in range(n)]
    Video.objects.filter(pk__in=[v.pk for v in videos]).update(
        updated_at=timezone.now() - changed_ago
    )
    for video in videos:
        video.refresh_from_db()
    return videos


def _backend_pid(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _knn(queries: CaptureQueriesContext) -> list[str]:
    table = VideoVector._meta.db_table
    return [q["sql"] for q in queries.captured_queries if table in q["sql"] and "<=>" in q["sql"]]


@pytest.mark.django_db
def test_without_a_replica_every_read_and_write_uses_default():
    assert search_alias() == DEFAULT_DB_ALIAS
    with search_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert router.db_for_read(VideoVector) == DEFAULT_DB_ALIAS
        assert router.db_for_write(Search) == DEFAULT_DB_ALIAS
    videos = _catalog(3)
    with CaptureQueriesContext(connections["default"]) as queries:
        result = selectors.similar(videos[0], PARAMS)
    assert len(result.catalog) == 2 and _knn(queries)


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_search_reads_go_to_the_replica_and_nothing_else_does(replica_alias):
    assert _backend_pid(REPLICA) != _backend_pid(DEFAULT_DB_ALIAS)  # two sessions
    videos = _catalog(4)
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default,
    ):
        result = selectors.similar(videos[0], PARAMS)
    assert [r.video.pk for r in result.catalog]
    assert _knn(on_replica), "the k-NN statement ran on the replica"
    assert not on_default.captured_queries, [q["sql"] for q in on_default.captured_queries]
    assert {r.video._state.db for r in result.catalog} == {REPLICA}

    # Explore's page of videos (read lazily, when the template iterates it).
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default,
    ):
        listed = list(selectors.explore(None, 1).object_list)
    assert len(listed) == 4 and {v._state.db for v in listed} == {REPLICA}

    def listing(queries: CaptureQueriesContext) -> list[str]:
        return [
            q["sql"] for q in queries.captured_queries if 'ORDER BY "catalog_video"' in q["sql"]
        ]

    assert listing(on_replica) and not listing(on_default)

    # Outside a search everything reads default; writes go to default even inside one.
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert Video.objects.filter(pk=videos[1].pk).exists()
        with search_reads() as alias:
            assert alias == REPLICA
            Search.objects.create(
                query_video=videos[0], representation="both", metric="cosine", k=2
            )
    assert not on_replica.captured_queries
    assert Search.objects.using(DEFAULT_DB_ALIAS).count() == 1


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_a_video_that_just_changed_is_searched_on_the_primary(replica_alias, settings):
    settings.REPLICA_LAG_SECONDS = 30
    old = _catalog(3)
    fresh = _catalog(1, changed_ago=timedelta(seconds=5))[0]  # e.g. an upload just ready
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        result = selectors.similar(fresh, PARAMS)
    assert not on_replica.captured_queries  # the replica may not have it yet
    assert {r.video.pk for r in result.catalog} <= {v.pk for v in old}
    settings.REPLICA_LAG_SECONDS = 1
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        selectors.similar(fresh, PARAMS)
    assert _knn(on_replica)


@pytest.fixture
def unreachable_replica(replica_alias):
    """The replica alias pointed at a closed port on 127.0.0.1 for one test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    good = connections.settings[REPLICA]
    connections[REPLICA].close()
    del connections[REPLICA]
    connections.settings[REPLICA] = {**good, "HOST": "127.0.0.1", "PORT": str(port)}
    db_routers.forget_replica_failure()
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    connections.settings[REPLICA] = good
    db_routers.forget_replica_failure()


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_an_unreachable_replica_sends_searches_to_the_primary(unreachable_replica, caplog):
    videos = _catalog(3)
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_default:
        result = selectors.similar(videos[0], PARAMS)
    assert len(result.catalog) == 2 and _knn(on_default)
    assert "database replica unreachable" in caplog.text
    # Remembered: the next search does not try (and wait for) the replica again.
    caplog.clear()
    assert search_alias() == DEFAULT_DB_ALIAS and not caplog.text
    db_routers.forget_replica_failure()
    assert search_alias() == DEFAULT_DB_ALIAS and "unreachable" in caplog.text


def test_migrations_run_on_default_only():
    r = router.routers[0]
    assert r.allow_migrate(DEFAULT_DB_ALIAS, "catalog")
    assert not r.allow_migrate(REPLICA, "catalog")


def test_replica_url_parsing(monkeypatch):
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    assert env.replica_database_config() is None
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://ro:pw@standby.internal:5433/mvsim")
    config = env.replica_database_config()
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("standby.internal", 5433, "mvsim")
    assert (config["USER"], config["PASSWORD"]) == ("ro", "pw")
    assert config["TEST"] == {"MIRROR": "default"}
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql://h/db")
    with pytest.raises(env.ConfigError, match="DATABASE_REPLICA_URL"):
        env.replica_database_config()


def test_settings_add_the_replica_alias_and_the_router():
    code = (
        "from django.conf import settings as s; r = s.DATABASES['replica'];"
        "print(r['HOST'], r['PORT'], r['CONN_HEALTH_CHECKS'], r['OPTIONS']['prepare_threshold'],"
        " s.DATABASE_ROUTERS)"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mvsite.settings",
        "DATABASE_REPLICA_URL": "postgres://ro:pw@standby.internal:5433/mvsim",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "standby.internal",
        "5433",
        "True",
        "5",
        "['mvsite.db_routers.ReplicaRouter']",
    ]
