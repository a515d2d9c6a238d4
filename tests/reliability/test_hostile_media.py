"""Hostile and malformed media (tests/reliability/corpus.py) through the real extraction stage,
a worker and the upload intake: each file is accepted or refused with a reason, within

* 30 s wall time per file (the whole pipeline run: extract, materialise, encode),
* 600 MB peak RSS of the decoders (ffmpeg, all of them together) and 600 MB growth of the
  process running the stage (numpy buffers, features, thumbnails),

and nothing is half-written: a refused file leaves no Segment/VideoFeatures row and no
thumbnail file, its video ends ``failed`` with a readable reason.
"""

from __future__ import annotations

import math
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Video, VideoStatus
from features.models import Segment, VideoFeatures
from features.thumbnails import video_dir
from pipeline import services
from pipeline.intake import IntakeError, submit_upload
from pipeline.models import RunState, StageRun
from tests.factories import VideoFactory
from tests.reliability.corpus import NAMES, build
from tests.reliability.meter import MB, Meter

pytestmark = pytest.mark.slow

MAX_SECONDS = 30
MAX_DECODER_BYTES = 600 * MB
MAX_GROWTH_BYTES = 600 * MB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(autouse=True)
def _no_music_model(settings):
    # As in the worker tests: MusiCNN (TensorFlow) is loaded once per worker, not per file;
    # loading it here would add its ~500 MB to the first file's measurement.
    settings.MUSIC_EMBEDDINGS = False


def stored_video(path: Path, name: str) -> Video:
    relative = f"videos/hostile-{uuid.uuid4().hex[:8]}-{name}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return VideoFactory(pending=True, title=name, media=relative)


def thumbnail_files(video_id: int) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / video_dir(video_id)
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def assert_refused_cleanly(video: Video, reason: str) -> None:
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    # a MediaError's reason (StageFailed), not "extracting failed: SomeException: ..."
    assert video.error.startswith("Could not analyse the media: "), video.error
    assert re.search(reason, video.error), video.error
    assert not Segment.objects.filter(video=video).exists()
    assert not VideoFeatures.objects.filter(video=video).exists()
    assert thumbnail_files(video.pk) == []
    run = StageRun.objects.get(video=video)
    assert run.state == RunState.FAILED and run.detail == video.error


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_hostile_file_through_the_pipeline_in_bounded_time_and_memory(corpus, name):
    path, case = corpus[name]
    video = stored_video(path, name)

    with Meter() as meter:
        services.run_here(video)

    print(f"{name}: {case.expect}; {meter.line()}")
    assert meter.seconds <= MAX_SECONDS, meter.line()
    assert meter.children_peak <= MAX_DECODER_BYTES, meter.line()
    assert meter.self_growth <= MAX_GROWTH_BYTES, meter.line()
    if case.expect == "failed":
        assert_refused_cleanly(video, case.reason)
        return
    video.refresh_from_db()
    assert video.status == VideoStatus.READY, video.error
    segments = list(Segment.objects.filter(video=video))
    assert segments
    for segment in segments:
        assert np.all(np.isfinite(np.asarray(segment.audio)))
        assert np.all(np.isfinite(np.asarray(segment.visual)))
    assert video.duration_seconds is not None and math.isfinite(video.duration_seconds)
    assert 0 < video.duration_seconds <= settings.MAX_VIDEO_SECONDS


@pytest.mark.django_db(transaction=True)
def test_the_worker_refuses_hostile_files_and_goes_on(corpus, run_jobs):
    """Refused files in a real PipelineWorker (burst, this process), then a good one."""
    names = ["zero.mp4", "text.mp4", "huge-real.avi", "tenhours.mka", "ts0.mkv", "cut50.mp4"]
    bad = [stored_video(corpus[name][0], name) for name in names]
    good = stored_video(corpus["polyglot-zip.mp4"][0], "polyglot-zip.mp4")
    for video in [*bad, good]:
        services.start(video)

    with Meter() as meter:
        run_jobs("extract", "default")

    assert meter.seconds <= MAX_SECONDS * len(names), meter.line()
    for name, video in zip(names, bad, strict=True):
        assert_refused_cleanly(video, corpus[name][1].reason)
    good.refresh_from_db()
    assert good.status == VideoStatus.READY, good.error


# --- upload intake -----------------------------------------------------------------------------


def uploads() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("zero.mp4", r"is empty"),
        ("text.mp4", r"is not a video or audio file we can read"),
        ("cut50.mp4", r"truncated"),
        ("huge-declared.avi", r"10000x10000; the limit is 7680x4320"),
        ("tenhours.mka", r"600.0 minutes long; the limit is 15 minutes"),
        ("ts0.mkv", None),  # probes fine: refused later, by extraction
    ],
)
def test_upload_intake_refuses_with_a_reason_and_keeps_nothing(corpus, redis_conn, name, message):
    path, _ = corpus[name]
    before = set(uploads())
    upload = SimpleUploadedFile(name, path.read_bytes())
    with Meter() as meter:
        if message is None:
            intake = submit_upload(upload)
            assert intake.created and intake.video.status == VideoStatus.EXTRACTING
            return
        with pytest.raises(IntakeError, match=message) as refused:
            submit_upload(upload)
    assert meter.seconds <= MAX_SECONDS and meter.children_peak <= MAX_DECODER_BYTES
    assert refused.value.field == "file"
    assert name in refused.value.message  # the user's name, not our random one
    assert set(uploads()) == before
    assert not Video.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("polyglot-zip.mp4", ".mp4"),
        ("polyglot-html.mp4", ".mp4"),
        ("mp4.wav", ".mp4"),
        ("wav.mp4", ".wav"),
        ("eight-audio.mkv", ".mkv"),
    ],
)
def test_upload_intake_names_the_file_by_its_content(corpus, redis_conn, name, suffix):
    path, _ = corpus[name]
    intake = submit_upload(SimpleUploadedFile(name, path.read_bytes()))
    assert intake.created
    stored = Path(settings.MEDIA_ROOT) / intake.video.media.name
    # The extension comes from what ffmpeg found, never from the user's name.
    assert stored.suffix == suffix and stored.read_bytes() == path.read_bytes()
    assert intake.video.original_filename == name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        (("\xe9" * 36 + ".mp4").encode("latin-1"), False),  # not UTF-8
        (("\xe9" * 2500 + "x" * 2496 + ".mp4").encode(), False),  # 5,000 characters
        (("\xe9" * 140 + "x" * 106 + ".mp4").encode(), True),  # 250 characters, 390 bytes
    ],
    ids=["latin1-name", "5000-char-name", "250-char-name"],
)
def test_api_upload_with_a_hostile_file_name(corpus, client, redis_conn, name, accepted):
    """Django's multipart parser refuses a part whose headers pass 1,024 bytes, and drops a
    file whose name is not UTF-8: both a 400 with nothing stored. A long UTF-8 name within
    that is accepted (the upload is stored under a random name)."""
    boundary = "hostileboundary"
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\n',
            b"Content-Type: video/mp4\r\n\r\n",
            corpus["tags.mp4"][0].read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    before = uploads()
    response = client.generic(
        "POST", "/api/searches/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    if not accepted:
        assert response.status_code == 400, response.content
        assert not Video.objects.exists() and uploads() == before
        return
    assert response.status_code == 202, response.content
    video = Video.objects.get(source="upload")
    assert video.original_filename == name.decode()
    assert Path(video.media.name).suffix == ".mp4"
