"""Read-only queries about the catalog."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Video, VideoSource, VideoStatus


def catalog_videos() -> QuerySet[Video]:
    return Video.objects.filter(is_query=False)


def catalog_is_demo() -> bool:
    """True while every catalog video came from the procedural demo generator."""
    videos = catalog_videos()
    return videos.exists() and not videos.exclude(source=VideoSource.DEMO).exists()


def ready_catalog_videos() -> QuerySet[Video]:
    return catalog_videos().filter(status=VideoStatus.READY)
