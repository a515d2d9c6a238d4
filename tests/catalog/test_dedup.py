"""One rule for "we have this video already" (catalog.intake), whichever way a video comes in."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from catalog import intake as catalog_intake
from catalog.intake import DuplicateContent, add_video
from catalog.models import Video, VideoSource, VideoStatus
from pipeline import intake
from tests.factories import VideoFactory
from tests.mediagen import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def clip(tmp_path) -> Path:
    (tmp_path / "incoming").mkdir()
    return make_video(tmp_path / "incoming" / "song.mp4", 2.0, size="64x36")


def import_folder(folder: Path) -> str:
    out = StringIO()
    call_command("import_folder", str(folder), "--process", "none", stdout=out)
    return out.getvalue()


def upload(path: Path, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, path.read_bytes(), content_type="application/octet-stream")


def test_an_upload_of_an_imported_file_reuses_that_video(media_root, clip, redis_conn):
    assert "Imported 1, duplicate 0" in import_folder(clip.parent)
    imported = Video.objects.get()
    assert imported.source == VideoSource.LOCAL and imported.status == VideoStatus.PENDING

    found = intake.submit_upload(upload(clip, "the same song.mov"))

    assert found.reused and found.video.pk == imported.pk and not found.video.is_query
    assert Video.objects.count() == 1
    assert not list((media_root / intake.UPLOAD_DIR).iterdir())  # the upload's copy is gone
    assert found.video.status == VideoStatus.EXTRACTING  # the pending import was started


def test_an_imported_file_that_was_uploaded_before_is_a_duplicate(media_root, clip, redis_conn):
    query = intake.submit_upload(upload(clip, "mine.mp4")).video
    out = import_folder(clip.parent)
    assert "Imported 0, duplicate 1" in out and f"= video {query.pk}" in out
    assert Video.objects.count() == 1


def test_same_youtube_id_or_url_is_the_same_video():
    video = VideoFactory(youtube_id="dQw4w9WgXcQ", source_url="https://example.com/a.mp4")
    with pytest.raises(DuplicateContent, match=rf"^Same YouTube video as video {video.pk} "):
        add_video(youtube_id="dQw4w9WgXcQ", is_query=True)
    with pytest.raises(DuplicateContent, match=rf"^Same source URL as video {video.pk} "):
        add_video(source_url="https://example.com/a.mp4")
    assert Video.objects.count() == 1


def test_a_lost_race_is_the_same_duplicate(monkeypatch):
    """Another process stores the video between our check and our insert: the unique
    constraint answers, and `then` (start, metadata) never runs for a second row."""
    other = VideoFactory(content_sha256="a" * 64)
    real = catalog_intake.existing_video
    calls = []

    def existing_video(**keys):  # the first check misses it, as if not yet committed
        calls.append(keys)
        return None if len(calls) == 1 else real(**keys)

    monkeypatch.setattr(catalog_intake, "existing_video", existing_video)
    started = []
    with pytest.raises(DuplicateContent, match=r"^Same file as video") as info:
        add_video(content_sha256="a" * 64, then=started.append)
    assert info.value.existing == other and started == [] and len(calls) == 2
    assert Video.objects.count() == 1
