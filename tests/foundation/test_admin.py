import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import (
    CatalogMapFactory,
    EvaluationRunFactory,
    FeatureDefinitionFactory,
    FeatureStatsFactory,
    GenreFactory,
    MapPointFactory,
    MaterializationFactory,
    ModelVersionFactory,
    SearchFactory,
    SearchSettingsFactory,
    SegmentFactory,
    StageRunFactory,
    TrackMetadataFactory,
    VideoFactory,
    VideoFeaturesFactory,
    VideoVectorFactory,
)

pytestmark = pytest.mark.django_db

ADMIN_MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _one_of_each() -> dict:
    """A row of every model with an admin (keyed by label), all about one video."""
    genre = GenreFactory(name="Blues")
    video = VideoFactory(genre=genre, predicted_genre=genre, predicted_confidence=0.7)
    catalog_map = CatalogMapFactory()
    MapPointFactory(catalog_map=catalog_map, video=video)
    return {
        "catalog.genre": genre,
        "catalog.video": video,
        "catalog.trackmetadata": TrackMetadataFactory(video=video, tempo=90.0),
        "features.featuredefinition": FeatureDefinitionFactory(position=0),
        "features.segment": SegmentFactory(video=video, index=0),
        "features.videofeatures": VideoFeaturesFactory(video=video),
        "search.videovector": VideoVectorFactory(video=video, with_code=True),
        "search.searchsettings": SearchSettingsFactory(),
        "search.search": SearchFactory(query_video=video),
        "search.featurestats": FeatureStatsFactory(n_videos=1),
        "search.materialization": MaterializationFactory(),
        "ml.modelversion": ModelVersionFactory(name="v1", metrics={"val_accuracy": 0.5}),
        "pipeline.stagerun": StageRunFactory(video=video, stage="extracting"),
        "evaluation.evaluationrun": EvaluationRunFactory(finished=True),
        "evaluation.catalogmap": catalog_map,
    }


def test_every_model_has_an_admin():
    from django.apps import apps

    ours = {
        m
        for app in ("catalog", "features", "search", "ml")
        for m in apps.get_app_config(app).get_models()
    }
    assert ours <= set(admin.site._registry)


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_changelist_and_change_page_for_staff(staff_client, model):
    objects = _one_of_each()
    info = (model._meta.app_label, model._meta.model_name)
    response = staff_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 200
    obj = objects.get(model._meta.label_lower)
    if obj is None and model._meta.managed:
        obj = model.objects.first()
    if obj is not None:
        response = staff_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        assert response.status_code == 200


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_anonymous_is_redirected_to_login(client, model):
    info = (model._meta.app_label, model._meta.model_name)
    response = client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_rq_dashboard_reachable_from_admin(staff_client, redis_conn):
    response = staff_client.get(reverse("admin:django_rq_home"))
    assert response.status_code == 200
    assert b"extract" in response.content and b"train" in response.content


def test_model_version_activate_action_keeps_one_active(staff_client):
    first = ModelVersionFactory(name="a", is_active=True)
    second = ModelVersionFactory(name="b")
    response = staff_client.post(
        reverse("admin:ml_modelversion_changelist"),
        {"action": "activate", "_selected_action": [second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)


@pytest.mark.django_db(transaction=True)
def test_reextract_action_queues_jobs_and_reencode_explains_missing_model(staff_client, redis_conn):
    from mvsite.queues import get_queue

    video = VideoFactory(media="videos/x.mp4", status="ready")
    url = reverse("admin:catalog_video_changelist")
    response = staff_client.post(
        url, {"action": "reextract", "_selected_action": [video.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"Queued feature extraction for 1 video" in response.content
    assert get_queue("extract").count == 1
    response = staff_client.post(
        url, {"action": "reencode", "_selected_action": [video.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"No active model yet" in response.content
