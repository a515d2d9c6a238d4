"""Development media serving (mvsite.media): whole files, single byte ranges for seeking,
and nothing outside MEDIA_ROOT."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 4  # 1,024 bytes


@pytest.fixture
def media_file() -> str:
    path = Path(settings.MEDIA_ROOT) / "tests-media" / "clip.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CONTENT)
    yield "tests-media/clip.mp4"
    path.unlink()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file(client, media_file):
    response = client.get(f"/media/{media_file}")
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=2-5", 2, 5), ("bytes=1000-", 1000, 1023), ("bytes=-3", 1021, 1023)],
)
def test_a_range_is_a_206_with_those_bytes(client, media_file, header, start, end):
    response = client.get(f"/media/{media_file}", headers={"Range": header})
    assert response.status_code == 206
    assert body(response) == CONTENT[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response["Content-Length"] == str(end - start + 1)


def test_a_range_past_the_end_is_416(client, media_file):
    response = client.get(f"/media/{media_file}", headers={"Range": "bytes=5000-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize("path", ["../etc/passwd", "tests-media/missing.mp4", "tests-media"])
def test_outside_media_root_missing_or_a_folder_is_404(client, media_file, path):
    assert client.get(f"/media/{path}").status_code == 404


def test_only_get_and_head(client, media_file):
    assert client.head(f"/media/{media_file}").status_code == 200
    assert client.post(f"/media/{media_file}").status_code == 405
