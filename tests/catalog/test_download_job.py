"""The download stage in a real RQ worker, downloading from a local MediaServer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Video, VideoSource, VideoStatus
from catalog.services import file_sha256
from mvsite.queues import get_queue
from pipeline.services import start
from tests.fakes.media_server import MediaServer
from tests.mediagen import make_video

pytestmark = pytest.mark.django_db(transaction=True)  # jobs are enqueued on commit


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("download-job") / "clip.mp4", 3)


@pytest.fixture
def media_server():
    with MediaServer() as server:
        yield server


def queued_download(url: str) -> Video:
    video = Video.objects.create(source=VideoSource.YOUTUBE, source_url=url, title="A song")
    start(video)
    video.refresh_from_db()
    return video


def unique_path() -> str:
    # yt-dlp names the file after the URL's last part: unique, so tests never share a file.
    return f"/{uuid.uuid4().hex}.mp4"


def test_download_attaches_media_and_queues_extraction(media_server, clip, run_jobs):
    video = queued_download(media_server.add_file(unique_path(), clip))
    assert video.status == VideoStatus.DOWNLOADING
    [job] = get_queue("default").jobs
    assert job.meta["pipeline_stage"] == "downloading" and job.args == (video.pk,)

    run_jobs("default")

    video.refresh_from_db()
    assert video.status == VideoStatus.EXTRACTING, video.error
    assert video.error == ""
    stored = Path(settings.MEDIA_ROOT) / video.media.name
    assert video.media.name.startswith("videos/") and stored.read_bytes() == clip.read_bytes()
    assert video.content_sha256 == file_sha256(clip)
    assert video.duration_seconds == pytest.approx(3, abs=0.2)
    assert video.youtube_id is None  # not a YouTube URL: no YouTube id is invented
    [extract] = get_queue("extract").jobs
    assert extract.meta["pipeline_stage"] == "extracting" and extract.args == (video.pk,)
    assert video.job_id == extract.id


def test_missing_file_fails_with_the_reason(media_server, run_jobs):
    video = queued_download(media_server.url("/gone.mp4"))

    run_jobs("default")

    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert "404" in video.error
    assert not video.media and video.content_sha256 == ""
    assert get_queue("extract").count == 0


def test_same_bytes_as_a_catalog_video_fails_as_duplicate(media_server, clip, run_jobs):
    existing = Video.objects.create(
        title="Already here", content_sha256=file_sha256(clip), status=VideoStatus.READY
    )
    video = queued_download(media_server.add_file(unique_path(), clip))

    run_jobs("default")

    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert video.error.startswith(f"Same file as video {existing.pk}")
    assert video.content_sha256 == "" and not video.media
    assert get_queue("extract").count == 0
