"""Faults against the real services: database connections killed (and a real restart), disk
full / MEDIA_ROOT unwritable, a media host that stalls or never ends, an ffmpeg that hangs.
Each is bounded, fails the job with a reason, leaves no partial file or half-written row,
and the worker (and the web client) go on with the next job (request)."""

from __future__ import annotations

import errno
import os
import signal
import stat
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from catalog.models import Video, VideoSource, VideoStatus
from features import media as media_module
from features.models import Segment, VideoFeatures
from mvsite import services as embedded
from pipeline import intake, services
from pipeline.stages import Stage
from tests.fakes.media_server import MediaServer
from tests.fakes.stalling_server import StallingServer
from tests.mediagen import FFMPEG, make_audio, make_video
from tests.pipeline.conftest import start_worker
from tests.pipeline.test_worker import finish, wait_for

pytestmark = [pytest.mark.slow]


# --- the database goes away --------------------------------------------------------------------


def _terminate_backends() -> int:
    """What a restart does to every client: their server processes end (ours too)."""
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _ready(video: Video) -> bool:
    return Video.objects.get(pk=video.pk).status in (VideoStatus.READY, VideoStatus.FAILED)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _worker_and_web_survive(media_video, live_server, break_database) -> None:
    """A worker process and the live server (a real WSGI handler in a thread: Django's test
    client turns the per-request connection check off) across the outage."""
    worker = start_worker("default", "extract")
    try:
        first = media_video(f"before-{uuid.uuid4().hex[:6]}.wav", 2, audio_only=True)
        services.start(first)
        wait_for(lambda: _ready(first), timeout=90, what="the first video")
        assert Video.objects.get(pk=first.pk).status == VideoStatus.READY
        url = f"{live_server.url}/api/videos/{first.pk}/"
        assert _get(url) == 200

        break_database()
        connection.close()  # this test's own connection died too; it is not under test

        # The web server's next request: the health check reconnects (no 500 first).
        assert _get(url) == 200
        # The worker's next job.
        second = media_video(f"after-{uuid.uuid4().hex[:6]}.wav", 2, audio_only=True)
        services.start(second)
        wait_for(lambda: _ready(second), timeout=90, what="the job after the outage")
        second.refresh_from_db()
        assert second.status == VideoStatus.READY, second.error
    finally:
        worker.send_signal(signal.SIGTERM)
        out = finish(worker)
    assert "connection already closed" not in out, out
    assert worker.returncode == 0, out


@pytest.mark.django_db(transaction=True)
def test_killed_database_connections_worker_and_web_reconnect(media_video, live_server, redis_conn):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    killed: list[int] = []
    _worker_and_web_survive(media_video, live_server, lambda: killed.append(_terminate_backends()))
    assert killed[0] >= 2  # the worker's and the live server's connections at least


@pytest.mark.restart
@pytest.mark.skipif(not settings.EMBEDDED_POSTGRES, reason="DATABASE_URL: an external server")
@pytest.mark.django_db(transaction=True)
def test_postgres_restart_worker_and_web_reconnect(media_video, live_server, redis_conn):
    def restart() -> None:
        info = embedded._postmaster_info()
        embedded._pg_ctl_restart(Path(info.socket_dir))
        assert embedded.postgres_running()

    try:
        _worker_and_web_survive(media_video, live_server, restart)
    finally:
        if not embedded.postgres_running():
            embedded.postgres_up()


# --- disk full, MEDIA_ROOT unwritable ----------------------------------------------------------


class _FullDisk:
    """open() whose files take `room` bytes, then fail with ENOSPC (the file stays, partial)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115
        disk = self

        class Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, data):
                if len(data) > disk.room:
                    handle.write(data[: disk.room])
                    disk.room = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= len(data)
                return handle.write(data)

        return Handle()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.django_db
def test_upload_on_a_full_disk_is_a_507_and_keeps_nothing(
    client, redis_conn, monkeypatch, tmp_path
):
    clip = make_video(tmp_path / "c.mp4", 2, size="64x36").read_bytes()
    uploads = Path(settings.MEDIA_ROOT) / "uploads"
    before, rows = _files(uploads), Video.objects.count()
    monkeypatch.setattr(intake, "open", _FullDisk(room=1000), raising=False)
    response = client.post("/api/searches/", {"file": SimpleUploadedFile("c.mp4", clip)})
    assert response.status_code == 507, response.content
    assert (
        "could not be stored on the server (No space left on device)"
        in (response.json()["errors"]["file"])
    )
    assert _files(uploads) == before  # the partial copy was removed
    assert Video.objects.count() == rows


@pytest.mark.django_db
def test_upload_with_media_root_unwritable(redis_conn, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("MEDIA_ROOT below a regular file: every mkdir fails")
    settings.MEDIA_ROOT = str(blocker / "media")
    rows = Video.objects.count()
    with pytest.raises(intake.StorageFailed, match="could not be stored on the server"):
        intake.submit_upload(SimpleUploadedFile("c.mp4", b"\0" * 2048))
    assert Video.objects.count() == rows


@pytest.mark.django_db
def test_download_with_media_root_unwritable_fails_clearly(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings.MEDIA_ROOT = str(blocker / "media")
    with MediaServer() as server:
        url = server.add_file("/clip.mp4", make_video(tmp_path / "clip.mp4", 2, size="64x36"))
        video = Video.objects.create(source=VideoSource.YOUTUBE, source_url=url, title="s")
        outcome = services.run_here(video)
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert "downloading failed:" in video.error and "Not a directory" in video.error, video.error
    assert not video.media and video.content_sha256 == ""
    assert outcome.status == VideoStatus.FAILED


@pytest.mark.django_db
def test_extraction_with_thumbnails_unwritable_leaves_no_rows(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    (tmp_path / "media" / "videos").mkdir(parents=True)
    (tmp_path / "media" / "thumbs").write_text("a file where the thumbnail folder goes")
    make_audio(tmp_path / "media" / "videos" / "a.wav", 3)
    from tests.factories import VideoFactory

    video = VideoFactory(pending=True, title="a", media="videos/a.wav")
    services.run_here(video)
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert video.error.startswith("extracting failed: ") and "Not a directory" in video.error
    assert not Segment.objects.filter(video=video).exists()
    assert not VideoFeatures.objects.filter(video=video).exists()


# --- a media host that stalls, a stream that never ends, an ffmpeg that hangs ------------------


@pytest.fixture
def one_shot(monkeypatch):
    """No RQ retries (they wait 10 s, 60 s, 180 s): the first failure is the last."""
    monkeypatch.setattr(services, "RETRY", None)


def _download(url: str) -> Video:
    video = Video.objects.create(source=VideoSource.YOUTUBE, source_url=url, title="s")
    services.start(video)
    return video


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["stall", "endless"])
def test_a_stalling_or_endless_host_fails_the_job_and_the_worker_goes_on(
    mode, settings, run_jobs, one_shot, monkeypatch, tmp_path
):
    settings.DOWNLOAD_TIMEOUT_SECONDS = 1.0  # yt-dlp's socket timeout
    # The endless stream never goes quiet for a second: the stage's job timeout stops it.
    # yt-dlp tries 4 times (retries=3) after a stall, each ended by the 1 s socket timeout.
    limit = 20 if mode == "stall" else 4
    monkeypatch.setattr(Stage, "timeout_for", lambda self, duration: limit)
    videos = Path(settings.MEDIA_ROOT) / "videos"
    before = _files(videos)
    with StallingServer(mode) as bad, MediaServer() as good:
        stuck = _download(bad.url(f"/{uuid.uuid4().hex}.mp4"))
        clip = make_video(tmp_path / "ok.mp4", 2, size="64x36")
        fine = _download(good.add_file(f"/{uuid.uuid4().hex}.mp4", clip))
        started = time.monotonic()
        run_jobs("default")
        elapsed = time.monotonic() - started
    stuck.refresh_from_db()
    fine.refresh_from_db()
    assert stuck.status == VideoStatus.FAILED
    expected = "NetworkError" if mode == "stall" else "JobTimeoutException"
    assert f"downloading video {stuck.pk} failed: {expected}" in stuck.error, stuck.error
    assert not stuck.media
    assert fine.status == VideoStatus.EXTRACTING, fine.error  # downloaded: on to extraction
    assert elapsed < 30
    new = [p for p in _files(videos) if p not in before]
    assert [p.name for p in new] == [Path(fine.media.name).name]  # no .part left


@pytest.fixture
def hanging_ffmpeg(tmp_path, monkeypatch) -> Path:
    """An ffmpeg that opens files normally but never decodes one whose name has 'hang'."""
    script = tmp_path / "ffmpeg"
    script.write_text(
        f'#!/bin/sh\ncase "$*" in *hang*pipe:1*) exec sleep 600 ;; esac\nexec "{FFMPEG}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(media_module, "ffmpeg_exe", lambda: str(script))
    return script


def _sleepers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "sleep"]


def test_a_hanging_decoder_is_stopped_by_the_decode_timeout(hanging_ffmpeg, tmp_path):
    from features.extraction import extract_file

    path = make_audio(tmp_path / "hang.wav", 3)
    started = time.monotonic()
    with pytest.raises(media_module.DecodeTimeout, match="longer than 2 s"):
        extract_file(path, timeout=2)
    assert time.monotonic() - started < 10
    assert _sleepers() == []  # the decoder was killed


@pytest.mark.django_db(transaction=True)
def test_a_hanging_decoder_fails_the_job_and_the_worker_goes_on(
    hanging_ffmpeg, media_video, run_jobs, one_shot, monkeypatch
):
    monkeypatch.setattr(Stage, "timeout_for", lambda self, duration: 3)
    stuck = media_video(f"hang-{uuid.uuid4().hex[:6]}.wav", 3, audio_only=True)
    fine = media_video(f"fine-{uuid.uuid4().hex[:6]}.wav", 3, audio_only=True)
    services.start(stuck)
    services.start(fine)
    started = time.monotonic()
    run_jobs("extract")
    assert time.monotonic() - started < 30
    stuck.refresh_from_db()
    fine.refresh_from_db()
    assert stuck.status == VideoStatus.FAILED
    assert f"extracting video {stuck.pk} failed: JobTimeoutException" in stuck.error
    assert not Segment.objects.filter(video=stuck).exists()
    assert fine.status == VideoStatus.MATERIALIZING, fine.error  # extracted: on to the next
    assert _sleepers() == []  # the hanging decoder did not outlive its job
