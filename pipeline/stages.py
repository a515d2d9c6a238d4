"""The stages every video goes through, in order — the one place that declares them.

    pending -> downloading -> extracting -> materializing -> encoding -> ready
                                                             (any stage) -> failed

A video without media starts at downloading (it has a source URL), one with media at
extracting. Each stage is one RQ job on its queue (or a call in a command's process), bounded
by its timeout; when it finishes, pipeline.services.advance starts the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from catalog.models import VideoStatus
from mvsite.queues import QUEUE_DEFAULT, QUEUE_EXTRACT
from pipeline import steps


@dataclass(frozen=True)
class Stage:
    status: str  # the video's status while the stage runs
    work: Callable[[int, Callable[[int, int], None] | None], str]  # (video_id, progress)
    queue: str
    timeout: int  # seconds for any video
    seconds_per_media_second: float = 0.0  # plus this much per second of media

    @property
    def name(self) -> str:
        return str(self.status)

    def timeout_for(self, duration_seconds: float | None) -> int:
        duration = duration_seconds or settings.MAX_VIDEO_SECONDS
        return int(self.timeout + self.seconds_per_media_second * duration)


STAGES: tuple[Stage, ...] = (
    Stage(VideoStatus.DOWNLOADING, steps.download, QUEUE_DEFAULT, timeout=900),
    Stage(VideoStatus.EXTRACTING, steps.extract, QUEUE_EXTRACT, 300, seconds_per_media_second=2),
    Stage(VideoStatus.MATERIALIZING, steps.materialize, QUEUE_DEFAULT, timeout=120),
    Stage(VideoStatus.ENCODING, steps.encode, QUEUE_DEFAULT, timeout=300),
)
BY_STATUS = {stage.status: stage for stage in STAGES}
IN_PROGRESS = tuple(stage.status for stage in STAGES)
PIPELINE_QUEUES = tuple(dict.fromkeys(stage.queue for stage in STAGES))


def stage_named(status: str) -> Stage:
    try:
        return BY_STATUS[status]
    except KeyError:
        raise ValueError(
            f"{status!r} is not a pipeline stage; stages are {', '.join(IN_PROGRESS)}"
        ) from None


def following(stage: Stage) -> Stage | None:
    """The stage after this one; None after the last (the video is ready then)."""
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def first_stage(*, has_media: bool, has_source_url: bool) -> Stage | None:
    """Where a video starts: extraction when it has media, download when it only has a URL."""
    if has_media:
        return BY_STATUS[VideoStatus.EXTRACTING]
    if has_source_url:
        return BY_STATUS[VideoStatus.DOWNLOADING]
    return None
