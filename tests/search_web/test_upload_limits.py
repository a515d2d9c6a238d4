"""Uploads are cut off at MVSIM_UPLOAD_MAX_MB while they stream in (mvsite/uploads.py): a
413 with the intake's "too large" message, read no further than the limit (nothing of the file
when Content-Length already says too much), nothing stored, no temporary file left, and never
more than a chunk of it in memory."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import ClientHandler, RequestFactory
from django.urls import reverse

from catalog.models import Video
from mvsite.uploads import FORM_ALLOWANCE, UploadLimitHandler
from search.models import Search
from tests.mediagen import make_video
from tests.search_web import isolated_media, media_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]

LIMIT = 100_000
CHUNK = 64 * 1024  # Django's upload chunk (FileUploadHandler.chunk_size)
RECORDING_HANDLER = "tests.search_web.test_upload_limits.RecordingLimitHandler"


class RecordingLimitHandler(UploadLimitHandler):
    """The product's handler, remembered so the tests can read its counters."""

    instances: list[RecordingLimitHandler] = []

    def __init__(self, request=None):
        super().__init__(request)
        RecordingLimitHandler.instances.append(self)


@pytest.fixture(autouse=True)
def small_limits(settings, tmp_path):
    """A 100 KB limit; every upload goes to a temporary file in a folder of this test."""
    RecordingLimitHandler.instances.clear()
    settings.UPLOAD_MAX_BYTES = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    settings.FILE_UPLOAD_HANDLERS = [RECORDING_HANDLER, *settings.FILE_UPLOAD_HANDLERS[1:]]
    yield tmp_path / "upload-tmp"
    RecordingLimitHandler.instances.clear()


@pytest.fixture
def nothing_left(small_limits):
    before = (Video.objects.count(), Search.objects.count())
    yield
    assert (Video.objects.count(), Search.objects.count()) == before
    assert media_files() == set()
    assert list(small_limits.iterdir()) == []  # the partial temporary file is gone


def handler() -> RecordingLimitHandler:
    (only,) = RecordingLimitHandler.instances
    return only


def test_page_upload_over_the_limit_is_413(client, nothing_left):
    big = SimpleUploadedFile("big.mp4", b"\1" * (LIMIT + 30_000))
    response = client.post(reverse("search:submit"), {"k": "5", "file": big})
    assert response.status_code == 413
    text = response.content.decode()
    assert "“big.mp4” is too large (more than 97.7 KB); the limit is 97.7 KB." in text
    assert "Paste a YouTube URL or choose a file" not in text
    read = handler()
    assert LIMIT < read.received <= LIMIT + CHUNK and read.largest_chunk <= CHUNK


def test_api_upload_over_the_limit_is_413(client, nothing_left):
    big = SimpleUploadedFile("big.mp4", b"\1" * (LIMIT + 30_000))
    response = client.post("/api/searches/", {"file": big, "k": "5"})
    assert response.status_code == 413
    message = "“big.mp4” is too large (more than 97.7 KB); the limit is 97.7 KB."
    assert response.json() == {"detail": f"file: {message}", "errors": {"file": message}}
    assert handler().received <= LIMIT + CHUNK


def test_a_body_declared_too_large_is_refused_before_the_file_is_read(client, nothing_left):
    size = LIMIT + FORM_ALLOWANCE + 1
    response = client.post("/api/searches/", {"file": SimpleUploadedFile("big.mp4", b"\1" * size)})
    assert response.status_code == 413
    assert "is too large (" in response.json()["errors"]["file"]
    assert handler().received == 0


CSRF_SECRET = "s3cr3t" * 5 + "ok"  # 32 characters: a CSRF secret, sent as cookie and field


class EndlessUpload:
    """A wsgi.input of `length` bytes: the CSRF token field (a browser sends the form's token
    first), one multipart file part, then zeros, made as they are read."""

    BOUNDARY = "mvsimboundary"

    def __init__(self, length: int):
        self.head = (
            f"--{self.BOUNDARY}\r\nContent-Disposition: form-data; "
            f'name="csrfmiddlewaretoken"\r\n\r\n{CSRF_SECRET}\r\n'
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="huge.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        self.length = length
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        left = self.length - self.position
        size = left if size is None or size < 0 else min(size, left)
        head = self.head[self.position : self.position + size]
        data = head + b"\0" * (size - len(head))
        self.position += size
        return data

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by the parser
        return self.read(size)


def post_endless(path: str, length: int) -> tuple[object, EndlessUpload, int]:
    """POST a body of `length` bytes that is never in memory; returns the response, the body
    (how much of it was read) and the peak of Python's memory during the request."""
    body = EndlessUpload(length)
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=f"multipart/form-data; boundary={EndlessUpload.BOUNDARY}",
        CONTENT_LENGTH=str(length),
        HTTP_COOKIE=f"csrftoken={CSRF_SECRET}",
        **{"wsgi.input": body},
    )
    tracemalloc.start()
    try:
        response = ClientHandler(enforce_csrf_checks=True)(environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return response, body, peak


@pytest.mark.parametrize("path", ["/api/searches/", "/search/"])
def test_a_2_gb_upload_is_refused_having_read_almost_nothing(path, nothing_left):
    response, body, peak = post_endless(path, 2 * 1024**3)
    assert response.status_code == 413
    assert "“huge.mp4” is too large (2.0 GB); the limit is 97.7 KB." in response.content.decode()
    assert body.position <= 2 * CHUNK  # the part's headers, not the 2 GB
    assert handler().received == 0
    assert peak < 4 * 1024 * 1024


def test_a_body_just_over_the_limit_streams_to_disk_and_stops_at_the_limit(settings, nothing_left):
    settings.UPLOAD_MAX_BYTES = 8 * 1024 * 1024  # the file is over it, the body within the
    length = settings.UPLOAD_MAX_BYTES + FORM_ALLOWANCE  # allowance: only counting stops it
    response, body, peak = post_endless("/api/searches/", length)
    assert response.status_code == 413
    assert "is too large (more than 8.0 MB)" in response.content.decode()
    read = handler()
    assert settings.UPLOAD_MAX_BYTES < read.received <= settings.UPLOAD_MAX_BYTES + CHUNK
    assert read.largest_chunk <= CHUNK
    assert body.position <= settings.UPLOAD_MAX_BYTES + 2 * CHUNK
    assert peak < 2 * 1024 * 1024  # chunks on their way to the temporary file, not 8 MB


def test_an_upload_within_the_limit_is_accepted(client, settings, tmp_path, small_limits):
    clip = make_video(tmp_path / "c.mp4", 1.0, size="64x36").read_bytes()
    settings.UPLOAD_MAX_BYTES = len(clip)  # exactly at the limit
    response = client.post("/api/searches/", {"file": SimpleUploadedFile("c.mp4", clip)})
    assert response.status_code == 202, response.content
    assert handler().received == len(clip) and handler().largest_chunk <= CHUNK
    assert Video.objects.filter(source="upload").count() == 1
    assert list(small_limits.iterdir()) == []  # Django's temporary copy was removed


def test_a_json_body_over_the_data_limit_is_413_unread(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"url": "https://youtu.be/dQw4w9WgXcQ", "pad": "' + "x" * 2000 + '"}'
    response = client.post("/api/searches/", body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["errors"]["body"]
    assert Video.objects.count() == 0
