import numpy as np
import pytest
from django.urls import reverse

from features.models import FeatureDefinition
from mvsite.queues import get_queue
from pipeline.catalog_work import schedule_rematerialization
from search.materialize import refit_and_materialize_all
from search.models import Materialization, MaterializationStatus, SearchSettings, VideoVector
from tests.factories import MaterializationFactory
from tests.search import ensure_definitions, feature_weights, make_catalog, reference_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def materialized():
    ensure_definitions()
    videos, raw = make_catalog(6)
    refit_and_materialize_all()
    return videos, raw


def _changelist_post(client, changes: dict[int, float]):
    rows = list(FeatureDefinition.objects.filter(position__in=changes).order_by("position"))
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(len(rows)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, row in enumerate(rows):
        data[f"form-{i}-id"] = str(row.pk)
        data[f"form-{i}-weight"] = str(changes[row.position])
    return client.post(reverse("admin:features_featuredefinition_changelist"), data, follow=True)


def test_editing_weights_in_the_changelist_enqueues_one_job_that_rewrites_the_vectors(
    staff_client, materialized, run_jobs, django_capture_on_commit_callbacks
):
    videos, raw = materialized
    queue = get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):
        response = _changelist_post(staff_client, {3: 4.0, 90: 0.0})
    assert response.status_code == 200
    assert list(FeatureDefinition.objects.filter(position__in=[3, 90]).values_list("weight")) == [
        (4.0,),
        (0.0,),
    ]
    assert queue.count == 1, "one job per request, however many weights changed"
    run = Materialization.objects.get()
    assert (run.status, run.job_id) == (MaterializationStatus.QUEUED, queue.job_ids[0])
    page = response.content.decode()
    job_url = reverse("admin:django_rq_job_detail", args=[0, run.job_id])
    assert f'<a href="{job_url}">{run.job_id}</a>' in page

    run_jobs("default")

    run.refresh_from_db()
    assert (run.status, run.n_vectors) == (MaterializationStatus.DONE, 6)
    job = queue.fetch_job(run.job_id)
    assert job.is_finished and job.meta["done"] == job.meta["total"] == 6
    expected = reference_vectors(raw, raw, feature_weights())["both"]
    stored = np.array([VideoVector.objects.get(video=v).both for v in videos], dtype=np.float64)
    np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-6)
    assert np.allclose(stored[:, 90], 0.0)  # weight 0 removes the feature
    assert feature_weights()[3] == 4.0


def test_modality_weights_enqueue_a_job_other_settings_do_not(
    staff_client, materialized, redis_conn, django_capture_on_commit_callbacks
):
    settings = SearchSettings.load()
    url = reverse("admin:search_searchsettings_change", args=[settings.pk])
    form = {
        "k": 10,
        "genre_boost": 0.8,
        "ef_search": 100,
        "candidate_pool_factor": 10,
        "audio_weight": 1.0,
        "visual_weight": 1.0,
        "default_representation": "both",
        "default_metric": "cosine",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {**form, "k": 20})
    assert response.status_code == 302
    assert get_queue("default").count == 0 and not Materialization.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {**form, "k": 20, "audio_weight": 2.0}, follow=True)
    assert get_queue("default").count == 1
    assert "re-materialised in background job" in response.content.decode()
    assert Materialization.objects.get().reason == "search settings: audio_weight"


def test_settings_page_shows_the_last_materialisation(staff_client, materialized, run_jobs):
    run = MaterializationFactory(reason="x", job_id="abc123")
    url = reverse("admin:search_searchsettings_change", args=[SearchSettings.load().pk])
    page = staff_client.get(url).content.decode()
    assert "statistics fitted" in page and "on 6 catalog videos" in page
    assert "last re-materialisation: Queued" in page and "abc123" in page
    run.status, run.n_vectors = MaterializationStatus.DONE, 6
    run.save()
    page = staff_client.get(url).content.decode()
    assert "last re-materialisation: Done" in page and "(6 vectors)" in page


def test_a_run_still_waiting_in_the_queue_is_reused(
    materialized, redis_conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = schedule_rematerialization("a")
    with django_capture_on_commit_callbacks(execute=True):
        second = schedule_rematerialization("b")
    assert first.pk == second.pk
    assert get_queue("default").count == 1


def test_a_failed_run_is_recorded(materialized, run_jobs, django_capture_on_commit_callbacks):
    FeatureDefinition.objects.filter(position=0).update(position=999)  # corrupt on purpose
    with django_capture_on_commit_callbacks(execute=True):
        run = schedule_rematerialization("bad")
    run_jobs("default")
    run.refresh_from_db()
    assert run.status == MaterializationStatus.FAILED
    assert "position 999 is not 0..421" in run.error
