"""Worker-process side of running stages here with several processes (`extract --workers N`).

Processes are *spawned*, not forked: a fork of a process that has started threads (TensorFlow,
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


def process_one(video_id: int) -> tuple[int, str, str]:
    """Every stage of one video in this process. Returns (id, final status, detail)."""
    # Imported here: Django is set up by init_worker, after this module was imported.
    from catalog.models import Video
    from pipeline.services import run_here

    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return video_id, "missing", "the video was deleted"
    outcome = run_here(video)
    return video_id, outcome.status, outcome.detail
