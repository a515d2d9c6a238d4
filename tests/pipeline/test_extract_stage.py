"""The extraction stage end to end: real RQ worker, real PostgreSQL, generated media."""

import numpy as np
import pytest
from django.core.management import call_command

from catalog.models import Video, VideoStatus
from features.models import Segment, VideoFeatures
from mvsite.queues import QUEUE_NAMES, get_queue
from pipeline import services
from search.models import VideoVector
from tests.mediagen import make_audio, make_video
from tests.pipeline.conftest import video_with_media

pytestmark = pytest.mark.django_db(transaction=True)


def test_extract_job_stores_segments_and_makes_video_searchable(run_jobs):
    video = video_with_media("clip.mp4", lambda p: make_video(p, 12))
    run = services.start(video)
    assert run and Video.objects.get(pk=video.pk).status == VideoStatus.EXTRACTING
    run_jobs()
    video.refresh_from_db()
    assert video.status == VideoStatus.READY, video.error
    assert (video.has_audio, video.has_video) == (True, True)
    assert video.duration_seconds == pytest.approx(12, abs=0.3)
    segments = list(Segment.objects.filter(video=video).order_by("index"))
    # The 2 s tail is shorter than the 5 s minimum: one segment.
    assert [(s.start_seconds, s.end_seconds) for s in segments] == [(0, 10)]
    features = VideoFeatures.objects.get(video=video)
    assert features.segment_count == len(segments) == 1
    assert np.allclose(np.asarray(features.audio_mean), np.asarray(segments[0].audio))
    vector = VideoVector.objects.get(video=video)
    assert vector.both is not None and len(vector.both) == 422


def test_rerun_replaces_segments_with_identical_vectors(run_jobs):
    video = video_with_media("twice.mp4", lambda p: make_video(p, 16))
    services.start(video)
    run_jobs()
    first = list(
        Segment.objects.filter(video=video).order_by("index").values_list("audio", "visual")
    )
    first_ids = set(Segment.objects.filter(video=video).values_list("pk", flat=True))
    services.restart(video)
    run_jobs()
    second = list(
        Segment.objects.filter(video=video).order_by("index").values_list("audio", "visual")
    )
    assert len(first) == len(second) == 2
    for (a1, v1), (a2, v2) in zip(first, second, strict=True):
        assert np.array_equal(np.asarray(a1), np.asarray(a2))
        assert np.array_equal(np.asarray(v1), np.asarray(v2))
    assert first_ids.isdisjoint(Segment.objects.filter(video=video).values_list("pk", flat=True))


def test_bad_media_fails_with_reason_and_writes_nothing(run_jobs):
    video = video_with_media("notes.mp4", lambda p: p.write_text("these are not video frames\n"))
    services.start(video)
    run_jobs()
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert video.error.startswith("Could not analyse the media:")
    assert not Segment.objects.filter(video=video).exists()
    assert not VideoFeatures.objects.filter(video=video).exists()


def test_audio_only_file_is_searchable_by_sound(run_jobs):
    video = video_with_media("tone.wav", lambda p: make_audio(p, 11))
    services.start(video)
    run_jobs()
    video.refresh_from_db()
    assert (video.status, video.has_audio, video.has_video) == (VideoStatus.READY, True, False)
    assert VideoVector.objects.get(video=video).audio is not None


def test_extract_command_reports_done_and_failed(capsys, redis_conn):
    good = video_with_media("good.mp4", lambda p: make_video(p, 6))
    bad = video_with_media("bad.mp4", lambda p: p.write_bytes(b""))
    call_command("extract", "--video", str(good.pk), str(bad.pk))
    out = capsys.readouterr().out
    assert "processed here: 1 ready, 1 failed; nothing queued" in out
    assert f"video {bad.pk}:" in out
    good.refresh_from_db(), bad.refresh_from_db()
    # Every stage ran here: no worker needed, nothing left in the queues.
    assert good.status == VideoStatus.READY and bad.status == VideoStatus.FAILED
    assert not any(get_queue(name).count for name in QUEUE_NAMES)


def test_extract_command_bad_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no video with id 999999"):
        call_command("extract", "--video", "999999")
    with pytest.raises(CommandError, match="--workers must be between 1 and 16"):
        call_command("extract", "--all", "--workers", "0")


def test_extract_command_with_worker_processes(capsys):
    videos = [video_with_media(f"p{i}.mp4", lambda p: make_video(p, 6)) for i in range(3)]
    call_command("extract", "--pending", "--workers", "2")
    assert "processed here: 3 ready, 0 failed" in capsys.readouterr().out
    assert VideoFeatures.objects.filter(video__in=videos).count() == 3
