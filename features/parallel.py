"""Worker-process side of `manage.py extract --workers N`.

Workers are *spawned*, not forked: a fork of a process that has started threads (TensorFlow,
BLAS, OpenCV pools) can deadlock in the child. So this module imports nothing from Django at
module level; the initializer sets Django up and points it at the parent's database and media.
"""

from __future__ import annotations


def init_worker(db_name: str, media_root: str) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    # The parent may run against a renamed database (tests) or another MEDIA_ROOT.
    connections["default"].settings_dict["NAME"] = db_name
    settings.MEDIA_ROOT = media_root


def extract_one(video_id: int) -> tuple[int, str, str]:
    """The whole extraction stage for one video. Returns (id, outcome, detail)."""
    from catalog import pipeline
    from catalog.models import Video, VideoStatus
    from features.services import run_extraction_stage

    Video.objects.filter(pk=video_id).update(status=VideoStatus.EXTRACTING, error="")
    try:
        result = run_extraction_stage(video_id)
    except Exception as exc:  # report it and go on with the other videos
        pipeline.mark_failed(video_id, f"{type(exc).__name__}: {exc}")
        return video_id, "failed", f"{type(exc).__name__}: {exc}"
    if result is None:
        return video_id, "failed", Video.objects.get(pk=video_id).error
    return video_id, "done", f"{len(result.segments)} segments"
