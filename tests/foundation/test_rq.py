import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from catalog.models import Genre
from mvsite.queues import enqueue_on_commit, get_queue
from tests.foundation.jobs import create_genre

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_job_is_enqueued_only_after_commit_and_runs_in_a_worker(run_jobs):
    queue = get_queue("default")
    with transaction.atomic():
        job_id = enqueue_on_commit("default", create_genre, "Shoegaze")
        assert queue.count == 0, "enqueued before the transaction committed"
    assert queue.job_ids == [job_id]
    run_jobs("default")
    assert Genre.objects.filter(name="Shoegaze").exists()
    assert queue.fetch_job(job_id).is_finished


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_enqueues_nothing(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("default", create_genre, "Never")
        raise RuntimeError("roll back")
    assert get_queue("default").count == 0


@pytest.mark.django_db(transaction=True)
def test_separate_rqworker_process_runs_job(redis_conn):
    get_queue("extract").enqueue(create_genre, "Krautrock")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mvsite.settings_test",
        "MVSIM_DB_NAME": connection.settings_dict["NAME"],
        "MVSIM_TEST_REDIS_DB": str(settings.REDIS.db),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "extract", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert Genre.objects.filter(name="Krautrock").exists()


def test_unknown_queue_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown queue 'gpu'"):
        get_queue("gpu")
