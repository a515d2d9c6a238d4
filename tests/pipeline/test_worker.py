"""The pipeline worker in real processes: timeouts, SIGTERM, SIGKILL, two workers at once,
the model kept loaded and a new active model picked up without a restart."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import numpy as np
import pytest
from django.utils import timezone
from rq.job import JobStatus

from catalog.models import Genre, Video, VideoStatus
from ml.services import encode_batches, train_model
from mvsite.queues import get_queue
from pipeline import catalog_work, services
from pipeline.models import RunState, StageRun
from pipeline.reconcile import reconcile
from pipeline.worker import PipelineWorker
from search.models import VideoVector
from tests.ml import separable_catalog
from tests.pipeline.conftest import enter_stage, start_worker
from tests.pipeline.jobs import sleep_then_create_genre

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finish(process: subprocess.Popen, timeout: float = 60) -> str:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"worker did not stop:\n{out}") from None
    return out


def test_a_job_past_its_timeout_fails_and_the_worker_goes_on(redis_conn):
    queue = get_queue("default")
    slow = queue.enqueue(sleep_then_create_genre, 5, "Too slow", job_timeout=1)
    quick = queue.enqueue(sleep_then_create_genre, 0, "Quick")
    PipelineWorker([queue], connection=redis_conn).work(burst=True)
    assert slow.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in slow.latest_result().exc_string
    assert quick.get_status() == JobStatus.FINISHED
    assert not Genre.objects.filter(name="Too slow").exists()


def test_sigterm_lets_the_current_job_finish_then_stops(redis_conn):
    job = get_queue("default").enqueue(sleep_then_create_genre, 3, "Finished anyway")
    worker = start_worker("default")
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, what="the job to start")
    worker.send_signal(signal.SIGTERM)
    out = finish(worker)
    assert worker.returncode == 0, out
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert Genre.objects.filter(name="Finished anyway").exists()


def test_a_worker_killed_mid_extraction_is_replaced_by_a_new_attempt(media_video, redis_conn):
    # Long enough that the extraction is still running when the worker is killed.
    video = media_video("long.wav", 8 * 60, audio_only=True)
    run = services.start(video)
    worker = start_worker("extract", MVSIM_PIPELINE_HEARTBEAT_SECONDS="1")
    wait_for(
        lambda: StageRun.objects.get(pk=run.pk).state == RunState.RUNNING,
        what="the extraction to start",
    )
    worker.send_signal(signal.SIGKILL)
    finish(worker)
    assert Video.objects.get(pk=video.pk).status == VideoStatus.EXTRACTING  # stuck as it was

    # The dead worker's alive key expires after 4 heartbeats; then the run counts as lost.
    def requeued() -> bool:
        return bool(reconcile(now=timezone.now()))

    wait_for(requeued, timeout=30, what="the reconciler to find the lost run")
    retry = StageRun.objects.get(job_id=Video.objects.get(pk=video.pk).job_id)
    assert retry.attempt == 2
    assert StageRun.objects.get(pk=run.pk).state == RunState.FAILED
    out = finish(start_worker("default", "extract", burst=True), timeout=180)
    video.refresh_from_db()
    assert video.status == VideoStatus.READY, (video.error, out)


def test_two_workers_run_each_stage_exactly_once(media_video, redis_conn):
    videos = [media_video(f"pair-{i}.wav", 3, audio_only=True) for i in range(20)]
    for video in videos:
        services.start(video)
    workers = [start_worker("default", "extract", burst=True) for _ in range(2)]
    outputs = [finish(worker, timeout=300) for worker in workers]
    statuses = Counter(
        Video.objects.filter(pk__in=[v.pk for v in videos]).values_list("status", flat=True)
    )
    assert statuses == {VideoStatus.READY: 20}, outputs
    runs = Counter(StageRun.objects.values_list("video_id", "stage", "state"))
    expected = {
        (video.pk, stage, RunState.DONE): 1
        for video in videos
        for stage in (VideoStatus.EXTRACTING, VideoStatus.MATERIALIZING, VideoStatus.ENCODING)
    }
    assert runs == expected
    # Both workers took part (RQ hands each job to one of them).
    assert len(set(StageRun.objects.values_list("worker", flat=True))) == 2


def _expected_code(video: Video, version) -> np.ndarray:
    [batch] = encode_batches([video.pk], version)
    return batch.encodings[0].code


def test_the_worker_keeps_its_model_and_picks_up_a_new_active_one(redis_conn):
    videos = separable_catalog(per_genre=4, segments=4)
    first = train_model(epochs=2, verbose=0)
    catalog_work.activate_model(first)
    worker = start_worker("default", MVSIM_PIPELINE_PRELOAD_MODELS="1", MVSIM_MUSIC_EMBEDDINGS="1")
    try:
        runs = [enter_stage(videos[0], VideoStatus.ENCODING)]
        wait_for(lambda: Video.objects.get(pk=videos[0].pk).is_ready, what="the first encoding")
        code = np.asarray(VideoVector.objects.get(video=videos[0]).code)
        assert np.allclose(code, _expected_code(videos[0], first), atol=1e-5)

        second = train_model(epochs=2, verbose=0, seed=7)
        second.activate()  # no re-encoding job: the next stage must use it by itself
        runs.append(enter_stage(videos[1], VideoStatus.ENCODING))
        wait_for(lambda: Video.objects.get(pk=videos[1].pk).is_ready, what="the second encoding")
        code = np.asarray(VideoVector.objects.get(video=videos[1]).code)
        assert np.allclose(code, _expected_code(videos[1], second), atol=1e-5)
        assert not np.allclose(code, _expected_code(videos[1], first), atol=1e-5)
        # The model was loaded at start, not per job: encoding takes well under a second.
        for run in runs:
            run.refresh_from_db()
            assert (run.finished_at - run.started_at).total_seconds() < 1.0, run
    finally:
        worker.send_signal(signal.SIGTERM)
        out = finish(worker)
    assert worker.returncode == 0, out
    assert f"model {first.pk} loaded" in out
    assert "MSD_musicnn loaded" in out  # extraction jobs will not pay for it either
