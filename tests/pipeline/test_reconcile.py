"""The reconciler finds videos whose run was lost and re-queues them, up to the attempt limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Video, VideoStatus
from mvsite.queues import get_queue
from pipeline import services
from pipeline.models import RunState, StageRun
from pipeline.reconcile import ALIVE_KEY, PIPELINE_WORKER_FIELD, reconcile, worker_alive
from tests.pipeline.conftest import enter_stage

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(minutes=2)  # past the grace period of a run that was just queued


def test_a_healthy_queued_run_is_left_alone(media_video, redis_conn):
    run = services.start(media_video("queued.mp4"))
    assert reconcile(now=timezone.now() + LATER) == []
    assert Video.objects.get(pk=run.video_id).job_id == run.job_id


def test_a_run_just_queued_gets_its_grace_period(media_video, redis_conn):
    run = services.start(media_video("young.mp4"))
    redis_conn.flushdb()  # its job vanished, but it is seconds old: maybe still committing
    assert reconcile() == []
    assert Video.objects.get(pk=run.video_id).job_id == run.job_id


def test_redis_emptied_the_video_is_requeued_and_finishes(media_video, run_jobs, redis_conn):
    video = media_video("emptied.mp4")
    lost = services.start(video)
    redis_conn.flushdb()  # Redis restarted without its data: the job is gone

    [finding] = reconcile(now=timezone.now() + LATER)

    assert (finding.video_id, finding.action, finding.stage) == (video.pk, "requeued", "extracting")
    assert "no longer in Redis" in finding.reason
    assert StageRun.objects.get(pk=lost.pk).state == RunState.FAILED
    retry = StageRun.objects.get(job_id=Video.objects.get(pk=video.pk).job_id)
    assert (retry.stage, retry.attempt) == (VideoStatus.EXTRACTING, 2)
    assert get_queue("extract").job_ids == [retry.job_id]
    run_jobs()
    run_jobs()
    assert Video.objects.get(pk=video.pk).status == VideoStatus.READY


def test_after_the_last_attempt_the_video_fails_with_the_reason(media_video, redis_conn, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    video = media_video("hopeless.mp4")
    services.start(video)
    for attempt in (1, 2):
        redis_conn.flushdb()
        [finding] = reconcile(now=timezone.now() + LATER)
        assert finding.action == ("requeued" if attempt == 1 else "failed")
    video.refresh_from_db()
    assert video.status == VideoStatus.FAILED
    assert "extracting stopped 2 time(s) without finishing" in video.error
    assert "no longer in Redis" in video.error


def test_a_job_whose_worker_died_is_requeued(media_video, redis_conn):
    video = media_video("orphan.mp4")
    run = services.start(video)
    job = get_queue("extract").fetch_job(run.job_id)
    # What RQ leaves behind when a pipeline worker is SIGKILLed mid-job: the job "started" by
    # a worker whose hash still exists but whose alive key has expired.
    job.set_status("started")
    job.worker_name = "gone"
    job.started_at = timezone.now()
    job.save()
    redis_conn.hset("rq:worker:gone", PIPELINE_WORKER_FIELD, "1")
    assert not worker_alive(redis_conn, "gone")
    [finding] = reconcile(now=timezone.now() + LATER)
    assert finding.action == "requeued" and "worker running it (gone) stopped" in finding.reason

    # With its alive key the same worker counts as busy, and nothing is done.
    services.restart(video)
    job = get_queue("extract").fetch_job(Video.objects.get(pk=video.pk).job_id)
    job.set_status("started")
    job.worker_name = "busy"
    job.started_at = timezone.now()
    job.save()
    redis_conn.hset("rq:worker:busy", PIPELINE_WORKER_FIELD, "1")
    redis_conn.set(ALIVE_KEY.format("busy"), "1", ex=30)
    assert reconcile(now=timezone.now() + LATER) == []


def test_a_run_past_its_timeout_is_requeued(media_video, redis_conn):
    video = media_video("slow.mp4")
    run = services.start(video)
    job = get_queue("extract").fetch_job(run.job_id)
    job.set_status("started")
    job.worker_name = "slowpoke"
    job.started_at = timezone.now()
    job.save()
    redis_conn.hset("rq:worker:slowpoke", "state", "busy")  # not a pipeline worker: RQ's key
    far = timezone.now() + timedelta(seconds=run.timeout_seconds + 120)
    [finding] = reconcile(now=far)
    assert "ran past its timeout" in finding.reason


def test_a_finished_job_that_did_not_advance_is_requeued(media_video, redis_conn):
    run = services.start(media_video("dropped.mp4"))
    get_queue("extract").fetch_job(run.job_id).set_status("finished")
    [finding] = reconcile(now=timezone.now() + LATER)
    assert "did not move on" in finding.reason


def test_a_local_run_of_a_dead_process_is_requeued(media_video, redis_conn):
    video = media_video("local.mp4")
    run = enter_stage(video, VideoStatus.EXTRACTING, place="here")
    assert reconcile(now=timezone.now() + LATER) == [], "this process is alive"
    host, _pid = services.local_process(run.job_id)
    dead = run.job_id.replace(f"-{_pid}-", "-999999999-")
    StageRun.objects.filter(pk=run.pk).update(job_id=dead)
    Video.objects.filter(pk=video.pk).update(job_id=dead)
    [finding] = reconcile(now=timezone.now() + LATER)
    assert finding.reason == "the command running it stopped"
    assert get_queue("extract").count == 1


def test_reconcile_command_reports(media_video, redis_conn, capsys):
    from django.core.management import call_command

    services.start(media_video("cmd.mp4"))
    redis_conn.flushdb()
    StageRun.objects.update(queued_at=timezone.now() - LATER)
    call_command("reconcile")
    out = capsys.readouterr().out
    assert "requeued" in out and "1 video(s)" in out
