"""Submitting a query when Redis is unreachable, and submitting again one that failed or is
stuck."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_rq import settings as rq_settings

from catalog.models import Video, VideoStatus
from mvsite.queues import get_queue
from pipeline import intake, services
from pipeline.models import RunState, StageRun
from search.models import Search
from tests.mediagen import make_video
from tests.search_web import media_files

pytestmark = pytest.mark.django_db(transaction=True)  # jobs are enqueued on commit

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("submit") / "q.mp4", 2.0, size="64x36").read_bytes()


@pytest.fixture
def redis_down(monkeypatch, redis_conn):
    for config in rq_settings.QUEUES.values():
        monkeypatch.setitem(config, "URL", CLOSED_PORT_URL)


def _nothing_stored() -> None:
    assert Video.objects.count() == 0 and Search.objects.count() == 0
    assert media_files() == set()


def test_api_upload_with_redis_down_is_a_503_and_stores_nothing(
    client, isolated_media, clip_bytes, redis_down
):
    response = client.post(
        "/api/searches/", {"file": SimpleUploadedFile("q.mp4", clip_bytes)}, format="multipart"
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "processing queue is not reachable" in response.json()["detail"]
    _nothing_stored()


def test_page_url_with_redis_down_is_a_503_and_stores_nothing(client, isolated_media, redis_down):
    response = client.post(reverse("search:submit"), {"url": "https://youtu.be/dQw4w9WgXcQ"})
    assert response.status_code == 503
    assert "processing queue is not reachable" in response.content.decode()
    _nothing_stored()


def test_redis_failing_between_the_check_and_the_enqueue_leaves_no_row(
    client, isolated_media, clip_bytes, redis_down, monkeypatch
):
    monkeypatch.setattr(intake, "require_queue", lambda: None)  # Redis went away just after
    response = client.post(
        "/api/searches/", {"file": SimpleUploadedFile("q.mp4", clip_bytes)}, format="multipart"
    )
    assert response.status_code == 503
    _nothing_stored()


def _upload(client, clip_bytes: bytes) -> dict:
    response = client.post(
        "/api/searches/", {"file": SimpleUploadedFile("q.mp4", clip_bytes)}, format="multipart"
    )
    assert response.status_code in (200, 202), response.content
    return response.json()


def test_resubmitting_a_failed_upload_starts_it_again(client, isolated_media, clip_bytes):
    first = _upload(client, clip_bytes)
    video = Video.objects.get(pk=first["video_id"])
    services.fail(video.job_id, "something went wrong")
    assert Video.objects.get(pk=video.pk).status == VideoStatus.FAILED

    again = _upload(client, clip_bytes)
    assert again["video_id"] == video.pk and again["reused"] is True
    assert again["status"] == VideoStatus.EXTRACTING
    video.refresh_from_db()
    assert get_queue("extract").job_ids == [video.job_id]


def test_resubmitting_a_stuck_upload_starts_it_again(
    client, isolated_media, clip_bytes, redis_conn
):
    first = _upload(client, clip_bytes)
    video = Video.objects.get(pk=first["video_id"])
    stuck = video.job_id
    redis_conn.flushdb()  # its job is gone for good
    StageRun.objects.filter(job_id=stuck).update(queued_at=timezone.now() - timedelta(minutes=5))

    _upload(client, clip_bytes)
    video.refresh_from_db()
    assert video.job_id != stuck and video.status == VideoStatus.EXTRACTING
    assert StageRun.objects.get(job_id=stuck).state == RunState.SUPERSEDED
    assert get_queue("extract").job_ids == [video.job_id]


def test_resubmitting_a_query_on_its_way_reuses_its_run(client, isolated_media, clip_bytes):
    first = _upload(client, clip_bytes)
    job_id = Video.objects.get(pk=first["video_id"]).job_id
    _upload(client, clip_bytes)
    assert Video.objects.get(pk=first["video_id"]).job_id == job_id
    assert get_queue("extract").job_ids == [job_id]
