import pytest
from django.contrib import admin
from django.urls import reverse

from catalog.models import TrackMetadata
from features.models import FeatureDefinition, Segment, VideoFeatures
from ml.models import ModelVersion
from search.models import Search, SearchSettings, VideoVector
from tests.factories import GenreFactory, VideoFactory, random_vector

pytestmark = pytest.mark.django_db

ADMIN_MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _one_of_each() -> dict:
    genre = GenreFactory(name="Blues")
    video = VideoFactory(genre=genre, predicted_genre=genre, predicted_confidence=0.7)
    FeatureDefinition.objects.get_or_create(
        position=0, defaults={"name": "zcr_mean", "modality": "audio"}
    )
    return {
        "catalog.genre": genre,
        "catalog.video": video,
        "catalog.trackmetadata": TrackMetadata.objects.create(video=video, tempo=90.0),
        "features.featuredefinition": FeatureDefinition.objects.order_by("position").first(),
        "features.segment": Segment.objects.create(
            video=video,
            index=0,
            start_seconds=0,
            end_seconds=10,
            audio=random_vector(68, 1),
            visual=random_vector(354, 2),
        ),
        "features.videofeatures": VideoFeatures.objects.create(
            video=video,
            segment_count=1,
            audio_mean=random_vector(68, 3),
            visual_mean=random_vector(354, 4),
        ),
        "search.videovector": VideoVector.objects.create(video=video, code=random_vector(40, 5)),
        "search.searchsettings": SearchSettings.load(),
        "search.search": Search.objects.create(
            query_video=video, representation="both", metric="cosine"
        ),
        "ml.modelversion": ModelVersion.objects.create(
            name="v1", artifact_dir="models/1", metrics={"val_accuracy": 0.5}
        ),
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
    first = ModelVersion.objects.create(name="a", artifact_dir="m/a", is_active=True)
    second = ModelVersion.objects.create(name="b", artifact_dir="m/b")
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
