"""Shared fixtures: the real embedded PostgreSQL and Redis, started on demand."""

from __future__ import annotations

import pytest
from django.conf import settings


def _ensure_services() -> None:
    from mvsite import services

    if settings.EMBEDDED_POSTGRES:
        services.postgres_up()
    if settings.REDIS.embedded:
        services.redis_up()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Runs before pytest-django creates the test database: make sure the server is there.
    _ensure_services()


@pytest.fixture(scope="session")
def _redis_ready() -> None:
    _ensure_services()


@pytest.fixture
def redis_conn(_redis_ready):
    """The test Redis database (MVSIM_TEST_REDIS_DB, default 15), emptied before each test."""
    import django_rq

    connection = django_rq.get_connection("default")
    assert connection.connection_pool.connection_kwargs.get("db") == settings.REDIS.db
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def run_jobs(redis_conn):
    """Run every queued job in the product's RQ worker (this process, burst mode)."""
    from mvsite.queues import QUEUE_NAMES, get_queue
    from pipeline.worker import PipelineWorker

    def run(*queue_names: str) -> None:
        queues = [get_queue(name) for name in (queue_names or QUEUE_NAMES)]
        PipelineWorker(queues, connection=redis_conn).work(burst=True)

    return run


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # With --reuse-db, a previous run's transactional tests flushed the rows that data
    # migrations created; put them back once per session.
    from catalog.services import ensure_product_genres
    from features.services import ensure_feature_definitions

    with django_db_blocker.unblock():
        ensure_product_genres()
        ensure_feature_definitions()


@pytest.fixture(autouse=True)
def _seed_rows_for_transactional_tests(request):
    """Transactional tests (and live_server) flush every table after themselves, including
    the rows data migrations created; the next one gets them back here."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        from catalog.services import ensure_product_genres
        from features.services import ensure_feature_definitions

        ensure_product_genres()
        ensure_feature_definitions()


@pytest.fixture(autouse=True)
def _forget_cached_search_settings():
    """Each test rolls its database back, so a SearchSettings row or a generation cached by
    an earlier test (SearchSettings.cached, search.materialize.cached_generation) must not leak
    into the next one."""
    from search import materialize
    from search.models import SearchSettings

    SearchSettings.forget_cached()
    materialize.forget_cached_generation()
    yield
    SearchSettings.forget_cached()
    materialize.forget_cached_generation()
