"""The stage order is declared once (pipeline.stages) and every transition goes through
pipeline.services; stale runs change nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from catalog.models import Video, VideoStatus
from features.models import Segment
from pipeline import services
from pipeline.models import RunState, StageRun
from pipeline.stages import STAGES, first_stage, following, stage_named
from tests.pipeline.conftest import enter_stage

ROOT = Path(__file__).resolve().parents[2]
APP_DIRS = ("catalog", "features", "ml", "search", "mvsite", "pipeline")
# The only modules that may move a video from one stage to another.
TRANSITION_MODULES = {"pipeline/services.py", "pipeline/reconcile.py"}


def test_the_declared_order():
    assert [stage.status for stage in STAGES] == [
        VideoStatus.DOWNLOADING,
        VideoStatus.EXTRACTING,
        VideoStatus.MATERIALIZING,
        VideoStatus.ENCODING,
    ]
    assert following(STAGES[-1]) is None
    assert first_stage(has_media=True, has_source_url=True).status == VideoStatus.EXTRACTING
    assert first_stage(has_media=False, has_source_url=True).status == VideoStatus.DOWNLOADING
    assert first_stage(has_media=False, has_source_url=False) is None
    with pytest.raises(ValueError, match="not a pipeline stage"):
        stage_named("ready")


def _status_writes(path: Path) -> list[str]:
    """Places in a module that set a video status other than pending, or call the catalog's
    stage writer."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def non_initial_status(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "VideoStatus"
            and node.attr != "PENDING"
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name == "set_processing_state":
                found.append(f"{path}:{node.lineno} calls set_processing_state")
            for keyword in node.keywords:
                if keyword.arg == "status" and non_initial_status(keyword.value):
                    if name in ("update", "create", "update_or_create", "get_or_create"):
                        found.append(f"{path}:{node.lineno} writes status in {name}()")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if getattr(target, "attr", None) == "status" and non_initial_status(node.value):
                    found.append(f"{path}:{node.lineno} assigns .status")
    return found


def test_no_module_outside_the_pipeline_moves_a_video_between_stages():
    offenders = []
    for app in APP_DIRS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "migrations" in relative or relative in TRANSITION_MODULES:
                continue
            offenders += _status_writes(path)
    assert not offenders, "\n".join(offenders)
    # ...and the check itself finds a transition where there is one.
    assert _status_writes(ROOT / "pipeline" / "services.py")


@pytest.mark.django_db(transaction=True)
def test_a_video_walks_through_every_stage_in_order(media_video, redis_conn):
    video = media_video("walk.mp4", 6)
    outcome = services.run_here(video)
    assert outcome.status == VideoStatus.READY, outcome.detail
    runs = list(StageRun.objects.filter(video=video).order_by("queued_at", "id"))
    assert [run.stage for run in runs] == [stage.status for stage in STAGES[1:]]
    assert {run.state for run in runs} == {RunState.DONE}
    assert all(run.started_at and run.finished_at for run in runs)
    video.refresh_from_db()
    assert (video.status, video.error) == (VideoStatus.READY, "")


@pytest.mark.django_db(transaction=True)
def test_a_stale_job_finishing_late_changes_nothing(media_video, redis_conn):
    video = media_video("stale.mp4", 6)
    old = services.start(video)
    new = services.restart(video)
    assert old.job_id != new.job_id
    # The old job comes back: it can neither claim, advance nor fail the video.
    assert services.claim(old.job_id) is None
    assert services.advance(old.job_id, "late") is None
    assert services.fail(old.job_id, "late failure") is False
    video.refresh_from_db()
    assert (video.status, video.job_id) == (VideoStatus.EXTRACTING, new.job_id)
    assert StageRun.objects.get(pk=old.pk).state == RunState.SUPERSEDED
    # The superseded job left the queue too.
    from mvsite.queues import get_queue

    assert get_queue("extract").job_ids == [new.job_id]


@pytest.mark.django_db(transaction=True)
def test_reextract_while_an_encode_job_is_queued_ends_ready_with_new_features(
    media_video, run_jobs
):
    video = media_video("reextract.mp4", 12)
    assert services.run_here(video).status == VideoStatus.READY
    old_segments = set(Segment.objects.filter(video=video).values_list("pk", flat=True))
    encode = enter_stage(video, VideoStatus.ENCODING)  # an encode job waits in the queue
    assert services.restart_many([video.pk]) == 1  # the admin's re-extract
    run_jobs()
    run_jobs()
    video.refresh_from_db()
    assert video.status == VideoStatus.READY, video.error
    new_segments = set(Segment.objects.filter(video=video).values_list("pk", flat=True))
    assert new_segments and new_segments.isdisjoint(old_segments)
    assert StageRun.objects.get(pk=encode.pk).state == RunState.SUPERSEDED
    latest = StageRun.objects.filter(video=video).order_by("-queued_at", "-id").first()
    assert (latest.stage, latest.state) == (VideoStatus.ENCODING, RunState.DONE)


@pytest.mark.django_db(transaction=True)
def test_an_old_encode_job_run_by_a_worker_does_nothing(media_video, run_jobs):
    """The job itself (not just advance) notices it was superseded and does no work."""
    video = media_video("old-encode.mp4", 6)
    assert services.run_here(video).status == VideoStatus.READY
    encode = enter_stage(video, VideoStatus.ENCODING)
    services.restart(video, place="here")  # e.g. `extract` started it again here
    Video.objects.filter(pk=video.pk).update(status=VideoStatus.EXTRACTING)
    run_jobs("default")
    assert StageRun.objects.get(pk=encode.pk).state == RunState.SUPERSEDED
    assert Video.objects.get(pk=video.pk).status == VideoStatus.EXTRACTING


@pytest.mark.django_db(transaction=True)
def test_bad_media_fails_the_video_with_a_reason(media_video, redis_conn):
    video = media_video("broken.mp4", 6)
    (Path(video.media.path)).write_bytes(b"not a video at all")
    outcome = services.run_here(video)
    assert outcome.status == VideoStatus.FAILED
    video.refresh_from_db()
    assert video.error.startswith("Could not analyse the media")
    assert StageRun.objects.get(video=video).state == RunState.FAILED
