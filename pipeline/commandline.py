"""What the management commands share about the pipeline: where to process new videos, and
processing them in this process with progress and a summary."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import connections
from redis.exceptions import RedisError
from rq.worker import Worker
from tqdm import tqdm

from catalog.models import Video, VideoStatus
from features.media import MediaError
from features.musicnn import MusicnnModel
from features.services import NoMediaFile, add_music_embeddings
from mvsite.queues import get_connection
from pipeline import services
from pipeline.catalog_work import rematerialize_here_if_waiting
from pipeline.parallel import init_worker, process_one
from pipeline.reconcile import worker_alive
from pipeline.stages import PIPELINE_QUEUES
from search.materialize import MaterializationError, materialize_video

PROCESS_CHOICES = ("auto", "queue", "here", "none")
AUTO_HELP = (
    "Where the new videos are processed: queue (RQ workers), here (in this process, every "
    "stage), none (leave them pending), or auto (queue when a worker is listening, else none)."
)


def add_process_option(parser: CommandParser) -> None:
    parser.add_argument("--process", choices=PROCESS_CHOICES, default="auto", help=AUTO_HELP)
    parser.add_argument(
        "--workers", type=int, default=1, help="with --process here: parallel processes (1-16)"
    )


def listening_workers() -> int:
    """Live RQ workers that take pipeline jobs (0 when Redis is unreachable)."""
    try:
        connection = get_connection()
        return sum(
            1
            for worker in Worker.all(connection=connection)
            if set(worker.queue_names()) & set(PIPELINE_QUEUES)
            and worker_alive(connection, worker.name)
        )
    except RedisError:
        return 0


@dataclass(frozen=True)
class Place:
    place: str  # "queue" | "here" | "none"
    why: str


def choose_place(choice: str) -> Place:
    if choice != "auto":
        return Place(choice, f"--process {choice}")
    workers = listening_workers()
    if workers:
        return Place("queue", f"{workers} worker(s) listening")
    return Place("none", "no worker is running")


def start_callback(place: Place) -> Callable[[Video], object] | None:
    """What a command passes as ``on_created`` for this place."""
    return services.start if place.place == "queue" else None


@dataclass
class LocalSummary:
    counts: Counter[str] = field(default_factory=Counter)  # final status -> videos
    failures: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        ready = self.counts.get(VideoStatus.READY, 0)
        failed = self.counts.get(VideoStatus.FAILED, 0)
        other = sum(self.counts.values()) - ready - failed
        text = f"processed here: {ready} ready, {failed} failed"
        return text + (f", {other} other" if other else "") + "; nothing queued"


def process_here(
    video_ids: Iterable[int], *, workers: int = 1, desc: str = "process", quiet: bool = False
) -> LocalSummary:
    """Take these videos through every stage in this process (or ``workers`` spawned ones)."""
    ids = list(video_ids)
    summary = LocalSummary()
    if not ids:
        return summary
    if workers > 1:
        # Spawned (not forked) processes: see pipeline/parallel.py.
        pool_cm = multiprocessing.get_context("spawn").Pool(
            workers,
            initializer=init_worker,
            initargs=(connections["default"].settings_dict["NAME"], str(settings.MEDIA_ROOT)),
        )
    else:
        pool_cm = _Inline()
    with pool_cm as pool:
        results = pool.imap_unordered(process_one, ids)
        for video_id, status, detail in tqdm(
            results, total=len(ids), unit="video", desc=desc, disable=quiet
        ):
            summary.counts[status] += 1
            if status != VideoStatus.READY:
                summary.failures.append((video_id, detail))
    # A grown catalog asked for a refit of the search statistics: do it here too.
    rematerialize_here_if_waiting()
    return summary


class _Inline:
    """Pool-like runner in this process (workers=1): simpler tracebacks, no fork."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap_unordered(self, func, items):
        return map(func, items)


def hand_over(
    place: Place, video_ids: list[int], *, workers: int = 1, quiet: bool = False
) -> list[str]:
    """After a command created videos: process them here when asked, and say what happened
    (the lines to print; failures start with two spaces)."""
    if not video_ids:
        return []
    if place.place == "queue":
        return [f"queued {len(video_ids)} video(s) for the workers ({place.why})"]
    if place.place == "here":
        summary = process_here(video_ids, workers=workers, quiet=quiet)
        return [summary.line(), *(f"  video {i}: {detail}" for i, detail in summary.failures)]
    return [
        f"{len(video_ids)} video(s) wait as pending ({place.why}); nothing queued. Process them "
        "here with `manage.py extract --pending`, or start a worker (`manage.py rqworker`)."
    ]


@dataclass
class MusicSummary:
    added: int = 0
    without_audio: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"music embeddings: {self.added} video(s) updated, {self.without_audio} without "
            f"audio, {len(self.failures)} failed"
        )


def add_music_here(
    video_ids: Iterable[int], model: MusicnnModel, *, quiet: bool = False
) -> MusicSummary:
    """Add MusiCNN embeddings to extracted videos in this process (one model, loaded once) and
    rewrite their search vectors; a video that fails is reported and the rest go on."""
    summary = MusicSummary()
    for video_id in tqdm(list(video_ids), unit="video", desc="music", disable=quiet):
        try:
            has_music = add_music_embeddings(video_id, model)
            materialize_video(video_id)
        except (
            MediaError,
            NoMediaFile,
            MaterializationError,
            ValueError,
            Video.DoesNotExist,
        ) as exc:
            summary.failures.append((video_id, str(exc)))
            continue
        if has_music:
            summary.added += 1
        else:
            summary.without_audio += 1
    rematerialize_here_if_waiting()
    return summary
