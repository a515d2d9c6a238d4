"""Stored runs and maps: created, computed by a real RQ worker or a command, failures kept."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from evaluation.layout import MapParameters
from evaluation.metrics import EmptyCatalog
from evaluation.models import CatalogMap, EvaluationRun, MapPoint, WorkStatus
from evaluation.services import (
    WorkInProgress,
    create_map,
    create_run,
    enqueue_map,
    enqueue_run,
    execute_map,
    execute_run,
)
from mvsite.queues import QueueUnavailable
from search.ranking import RepresentationUnavailable
from tests.evaluation import clustered_catalog

pytestmark = pytest.mark.django_db

QUICK = {"representations": ["both"], "metrics": ["cosine"]}


def test_a_job_in_the_worker_computes_and_stores_a_run(
    run_jobs, django_capture_on_commit_callbacks
):
    clustered_catalog(per_genre=3)
    with django_capture_on_commit_callbacks(execute=True):
        run = enqueue_run(QUICK)
    assert run.status == WorkStatus.QUEUED and run.job_id
    assert run.model_name == "clustered" and run.settings["genre_boost"] == 0.8
    run_jobs()
    run.refresh_from_db()
    assert run.status == WorkStatus.DONE and run.progress == 1.0 and run.catalog_size == 9
    assert run.finished_at >= run.started_at
    both = [r for r in run.figures["results"] if r["representation"] == "both"]
    assert [r["boosted"] for r in both] == [False, True]
    assert both[0]["precision"]["1"] == 1.0


def test_a_second_run_waits_for_the_first_unless_it_went_stale():
    clustered_catalog(per_genre=2, codes=False)
    first = create_run(QUICK)
    with pytest.raises(WorkInProgress, match="still in progress"):
        create_run(QUICK)
    EvaluationRun.objects.filter(pk=first.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    first.refresh_from_db()
    assert first.is_stale and not first.in_progress
    assert create_run(QUICK).pk != first.pk


def test_a_failing_run_is_stored_as_failed_with_the_reason():
    clustered_catalog(per_genre=2, codes=False)
    run = create_run({"representations": ["both"], "metrics": ["cosine"], "agreement_k": 0})
    with pytest.raises(Exception, match="agreement_k"):
        execute_run(run)
    run.refresh_from_db()
    assert run.status == WorkStatus.FAILED and "agreement_k" in run.error
    assert run.figures == {} and run.finished_at is not None


def test_no_run_on_an_empty_catalog_and_none_without_redis(monkeypatch):
    with pytest.raises(EmptyCatalog):
        create_run(QUICK)
    clustered_catalog(per_genre=2, codes=False)

    def down():
        raise QueueUnavailable("The processing queue is not reachable right now")

    monkeypatch.setattr("evaluation.services.require_queue", down)
    with pytest.raises(QueueUnavailable):
        enqueue_run(QUICK)
    with pytest.raises(QueueUnavailable):
        enqueue_map(MapParameters("both"))
    assert not EvaluationRun.objects.exists() and not CatalogMap.objects.exists()


def test_a_map_is_computed_and_every_video_gets_a_point(
    run_jobs, django_capture_on_commit_callbacks
):
    videos = clustered_catalog(per_genre=4)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_map = enqueue_map(MapParameters("both", "cosine"))
    with pytest.raises(WorkInProgress):
        create_map(MapParameters("both"))
    create_map(MapParameters("audio")).delete()  # another representation may run beside it
    run_jobs()
    catalog_map.refresh_from_db()
    assert catalog_map.status == WorkStatus.DONE and catalog_map.n_videos == 12
    points = catalog_map.display["points"]
    assert len(points) == 12 and not catalog_map.display["sampled"]
    assert MapPoint.objects.filter(catalog_map=catalog_map).count() == 12
    assert all(0 <= p[1] <= 1 and 0 <= p[2] <= 1 for p in points)
    assert set(catalog_map.display["genres"]) == set(videos)
    # Each point's 5 nearest among those shown, once per pair, indices into the points.
    edges = catalog_map.display["edges"]
    assert 12 * 5 / 2 <= len(edges) <= 12 * 5
    assert all(0 <= i < j < 12 for i, j in edges)
    # Genre clusters stay apart on the map: a point's nearest map point shares its genre.
    xy = {p[0]: (p[1], p[2]) for p in points}
    genre_of = {v.pk: name for name, group in videos.items() for v in group}
    for pk, (x, y) in xy.items():
        nearest = min(
            (q for q in xy if q != pk), key=lambda q: (xy[q][0] - x) ** 2 + (xy[q][1] - y) ** 2
        )
        assert genre_of[nearest] == genre_of[pk]


def test_a_map_that_fails_keeps_no_points():
    clustered_catalog(per_genre=2, codes=False)
    catalog_map = create_map(MapParameters("code"))
    with pytest.raises(RepresentationUnavailable):
        execute_map(catalog_map)
    catalog_map.refresh_from_db()
    assert catalog_map.status == WorkStatus.FAILED and "no learned codes" in catalog_map.error
    assert not MapPoint.objects.exists()


def test_build_map_command():
    clustered_catalog(per_genre=2, codes=False)
    out = StringIO()
    call_command("build_map", "--representation", "visual", stdout=out, verbosity=0)
    assert "of 6 videos (visual/cosine, 6 drawn)" in out.getvalue()
    for args, message in [
        (["--representation", "sound"], "--representation: 'sound' is not one of"),
        (["--metric", "manhattan"], "--metric: 'manhattan' is not one of"),
        (["--method", "tsne"], "--method: 'tsne' is not one of pca"),
        (["--representation", "code"], "cannot map code: no learned codes"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("build_map", *args, stdout=StringIO(), verbosity=0)
    assert CatalogMap.objects.filter(status=WorkStatus.DONE).count() == 1


def test_admin_pages_start_a_run_and_a_map(staff_client, django_capture_on_commit_callbacks):
    clustered_catalog(per_genre=2, codes=False)
    assert (
        "Start an evaluation"
        in staff_client.get("/admin/evaluation/evaluationrun/").content.decode()
    )
    page = staff_client.get("/admin/evaluation/evaluationrun/start/")
    assert page.status_code == 200 and b'name="representations"' in page.content
    bad = staff_client.post(
        "/admin/evaluation/evaluationrun/start/",
        {"representations": ["both"], "metrics": ["cosine"], "agreement_k": "0"},
    )
    assert bad.status_code == 200 and b"greater than or equal to 1" in bad.content
    with django_capture_on_commit_callbacks(execute=True):
        started = staff_client.post(
            "/admin/evaluation/evaluationrun/start/",
            {"representations": ["both"], "metrics": ["cosine"], "agreement_k": "5"},
        )
    assert started.status_code == 302
    run = EvaluationRun.objects.get()
    assert run.status == WorkStatus.QUEUED and run.parameters["representations"] == ["both"]
    again = staff_client.post(
        "/admin/evaluation/evaluationrun/start/",
        {"representations": ["both"], "metrics": ["cosine"], "agreement_k": "5"},
    )
    assert again.status_code == 200 and b"still in progress" in again.content
    assert EvaluationRun.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        mapped = staff_client.post(
            "/admin/evaluation/catalogmap/start/",
            {"representation": "both", "metric": "cosine", "method": "pca"},
        )
    assert mapped.status_code == 302 and CatalogMap.objects.get().status == WorkStatus.QUEUED


def test_admin_pages_need_staff(client):
    response = client.get("/admin/evaluation/evaluationrun/start/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
