"""Query intake services: URL, upload and existing video; reuse instead of repeating work."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from catalog.models import Video, VideoSource, VideoStatus
from pipeline import intake
from search.forms import SearchParams
from search.models import Search
from tests.factories import VideoFactory
from tests.mediagen import make_audio, make_video
from tests.search_web import isolated_media, media_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]

PARAMS = SearchParams("both", "cosine", 10, 0.8)


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", 2.0, size="64x36").read_bytes()


def upload(data: bytes, name: str = "clip.mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_youtube_url_creates_a_query_and_queues_the_download():
    found = intake.submit_url("https://youtu.be/dQw4w9WgXcQ")
    video = found.video
    assert found.created and video.is_query
    assert video.source == VideoSource.YOUTUBE
    assert video.youtube_id == "dQw4w9WgXcQ"
    assert video.source_url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    video.refresh_from_db()
    assert video.status == VideoStatus.DOWNLOADING and video.job_id == found.job_id


def test_same_url_twice_reuses_the_stored_query():
    first = intake.submit_url("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    second = intake.submit_url("https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=10s")
    assert second.reused and second.job_id == first.job_id  # the same download, not a second
    assert second.video.pk == first.video.pk
    assert Video.objects.count() == 1
    second.video.refresh_from_db()
    assert second.video.job_id == first.job_id


def test_catalog_video_with_that_youtube_id_is_used_directly():
    catalog = VideoFactory(youtube_id="dQw4w9WgXcQ", source=VideoSource.YOUTUBE)
    found = intake.submit_url("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert found.video.pk == catalog.pk and found.reused and found.job_id is None
    assert Video.objects.count() == 1


def test_failed_query_gets_another_try():
    video = VideoFactory(
        is_query=True,
        youtube_id="dQw4w9WgXcQ",
        source_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        status=VideoStatus.FAILED,
        error="network down",
    )
    found = intake.submit_url("https://youtu.be/dQw4w9WgXcQ")
    assert found.video.pk == video.pk and found.job_id
    assert found.video.status == VideoStatus.DOWNLOADING and found.video.error == ""


def test_allowed_hosts_are_injectable_for_a_stand_in_server():
    found = intake.submit_url(
        "http://127.0.0.1:8765/watch?v=abcdefghijk", allowed_hosts={"127.0.0.1:8765"}
    )
    assert found.video.source_url == "http://127.0.0.1:8765/watch?v=abcdefghijk"
    with pytest.raises(intake.IntakeError):  # the default: YouTube only
        intake.submit_url("http://127.0.0.1:8765/watch?v=abcdefghijk")


def test_upload_is_probed_stored_and_queued(clip_bytes):
    found = intake.submit_upload(upload(clip_bytes, "My Clip.MOV"))
    video = found.video
    assert found.created and video.is_query and video.source == VideoSource.UPLOAD
    assert video.media.name.startswith("uploads/") and video.media.name.endswith(".mp4")
    assert video.original_filename == "My Clip.MOV" and video.title == "My Clip"
    assert len(video.content_sha256) == 64
    assert video.has_audio and video.has_video
    assert 1.5 < video.duration_seconds < 2.5
    assert media_files() == {video.media.name}
    video.refresh_from_db()
    assert video.status == VideoStatus.EXTRACTING and video.job_id


def test_audio_only_upload_is_accepted(tmp_path):
    data = make_audio(tmp_path / "tone.ogg", 1.0).read_bytes()
    video = intake.submit_upload(upload(data, "tone.ogg")).video
    assert video.has_audio and not video.has_video
    assert video.media.name.endswith(".ogg")


def test_same_file_twice_reuses_the_video_and_keeps_one_file(clip_bytes):
    first = intake.submit_upload(upload(clip_bytes, "a.mp4"))
    second = intake.submit_upload(upload(clip_bytes, "renamed.webm"))
    assert second.reused and second.video.pk == first.video.pk
    assert Video.objects.count() == 1
    assert media_files() == {first.video.media.name}


def test_upload_identical_to_a_catalog_video_uses_the_catalog_video(clip_bytes):
    import hashlib

    catalog = VideoFactory(content_sha256=hashlib.sha256(clip_bytes).hexdigest())
    found = intake.submit_upload(upload(clip_bytes))
    assert found.video.pk == catalog.pk and found.reused
    assert media_files() == set()


def test_text_file_is_rejected_by_probing_even_with_a_video_extension():
    before = media_files()
    with pytest.raises(intake.IntakeError) as err:
        intake.submit_upload(upload(b"just some text\n" * 50, "notes.mp4"))
    assert "not a video or audio file" in str(err.value)
    assert "notes.mp4" in str(err.value) and "uploads/" not in str(err.value)
    assert Video.objects.count() == 0 and media_files() == before


@override_settings(UPLOAD_MAX_BYTES=1000)
def test_oversize_upload_is_rejected_before_reading(clip_bytes):
    class Unreadable(SimpleUploadedFile):
        def chunks(self, chunk_size=None):
            raise AssertionError("read an oversize file")

    with pytest.raises(intake.UploadTooLarge) as err:
        intake.submit_upload(Unreadable("big.mp4", clip_bytes))
    assert err.value.status == 413 and "limit" in str(err.value)
    assert Video.objects.count() == 0 and media_files() == set()


@override_settings(MAX_VIDEO_SECONDS=1.0)
def test_too_long_upload_is_rejected(clip_bytes):
    with pytest.raises(intake.IntakeError, match="minutes long"):
        intake.submit_upload(upload(clip_bytes))
    assert Video.objects.count() == 0 and media_files() == set()


def test_use_existing_needs_a_ready_video():
    ready = VideoFactory()
    assert intake.use_existing(ready.pk).video == ready
    with pytest.raises(intake.VideoNotReady):
        intake.use_existing(VideoFactory(status=VideoStatus.ENCODING))
    with pytest.raises(intake.IntakeError):
        intake.use_existing(999999)


def test_each_search_is_recorded():
    found, search = intake.search_by_url("https://youtu.be/dQw4w9WgXcQ", PARAMS)
    again, search2 = intake.search_by_url(
        "https://youtu.be/dQw4w9WgXcQ", PARAMS.with_representation("audio")
    )
    assert Search.objects.count() == 2
    assert search.query_video == search2.query_video == found.video
    assert (search2.representation, search2.metric, search2.k, search2.boost) == (
        "audio",
        "cosine",
        10,
        0.8,
    )
