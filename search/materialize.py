"""Standardisation statistics and the searchable feature vectors (services: they write).

A feature column of ``search.VideoVector`` is, per video::

    z        = (raw - mean) / std                        per feature, stats of the catalog
    audio    = z[audio]  * w[audio]  / sqrt(68)          w = FeatureDefinition.weight
    visual   = z[visual] * w[visual] / sqrt(354)
    both     = [audio * audio_weight, visual * visual_weight]   SearchSettings modality weights
    music    = the mean MusiCNN embedding as extracted (no standardisation: the model's own
               batch normalisation already puts its 200 dimensions on one scale)

Dividing each block by sqrt(its dimension) gives every modality the same expected squared
norm (for unit weights, E|z|^2 = dim), so in ``both`` the 354 visual dimensions don't drown
the 68 audio ones; the modality weights are then the real balance. It is ranking-neutral in
the single-modality columns but keeps their distances on the same scale as ``both``.

Stats and the weights used are stored together (``FeatureStats``): one *generation*. A video
materialised later is put in the same space even if weights were edited meanwhile; the edit
takes effect when ``refit_and_materialize_all`` (the ``rematerialize`` job) runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import BinaryField, F, Func
from django.utils import timezone

from catalog.selectors import in_catalog
from features.models import AUDIO_DIM, BOTH_DIM, VISUAL_DIM, FeatureDefinition, VideoFeatures
from search import result_cache
from search.models import (
    FeatureStats,
    Materialization,
    MaterializationStatus,
    SearchSettings,
    VideoVector,
)

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]

FEATURE_COLUMNS = ("audio", "visual", "both")
WRITTEN_COLUMNS = (*FEATURE_COLUMNS, "music")
AUDIO = slice(0, AUDIO_DIM)
VISUAL = slice(AUDIO_DIM, BOTH_DIM)
# A feature this flat over the catalog carries no information; dividing by ~0 would explode.
STD_FLOOR = 1e-9
BATCH_SIZE = 500
# Serialises full re-materialisations against single-video ones (see _lock).
_ADVISORY_LOCK_KEY = 0x6D7673696D  # "mvsim"
_RUNS_LOCK_KEY = _ADVISORY_LOCK_KEY + 1


class MaterializationError(RuntimeError):
    """Vectors cannot be materialised (e.g. the video has no extracted features)."""


# --------------------------------------------------------------------------- reading vectors


def vector_bytes(column: str) -> Func:
    """``vector_send(column)``: the vector in pgvector's binary format, for values_list().

    Parsing the text form costs ~0.3 ms per 422-d vector in Python; this is ~100x cheaper.
    """
    return Func(F(column), function="vector_send", output_field=BinaryField())


def decode_vector(data: bytes | memoryview | None) -> np.ndarray | None:
    """pgvector binary (uint16 dim, uint16 unused, big-endian float32s) -> float64 array."""
    if data is None:
        return None
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float64)


# --------------------------------------------------------------------------- weights


def column_multipliers(
    column: str, feature_weights: np.ndarray, audio_weight: float, visual_weight: float
) -> np.ndarray:
    """Per-dimension multiplier applied to standardised features to get ``column``."""
    audio = feature_weights[AUDIO] / math.sqrt(AUDIO_DIM)
    visual = feature_weights[VISUAL] / math.sqrt(VISUAL_DIM)
    if column == "audio":
        return audio.astype(np.float64)
    if column == "visual":
        return visual.astype(np.float64)
    if column == "both":
        return np.concatenate([audio * audio_weight, visual * visual_weight]).astype(np.float64)
    raise ValueError(f"column must be one of {', '.join(FEATURE_COLUMNS)}, not {column!r}")


def current_feature_weights() -> np.ndarray:
    """FeatureDefinition.weight by position (422); 1.0 (the model default) where no row exists."""
    weights = np.ones(BOTH_DIM, dtype=np.float64)
    for position, weight in FeatureDefinition.objects.values_list("position", "weight"):
        if not 0 <= position < BOTH_DIM:
            raise MaterializationError(f"FeatureDefinition position {position} is not 0..421")
        weights[position] = weight
    return weights


def weights_vector(modality: str) -> np.ndarray:
    """The multiplier for column ``modality`` ('audio' | 'visual' | 'both') from the *current*
    feature weights and modality weights (what the next re-materialisation will use)."""
    settings = SearchSettings.load()
    return column_multipliers(
        modality, current_feature_weights(), settings.audio_weight, settings.visual_weight
    )


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Generation:
    """Stats + weights of the stored vectors: everything needed to put a video in their space."""

    mean: np.ndarray
    std: np.ndarray
    feature_weights: np.ndarray
    audio_weight: float
    visual_weight: float

    @classmethod
    def from_stats(cls, stats: FeatureStats) -> Generation:
        return cls(
            mean=np.asarray(stats.mean, dtype=np.float64),
            std=np.asarray(stats.std, dtype=np.float64),
            feature_weights=np.asarray(stats.feature_weights, dtype=np.float64),
            audio_weight=stats.audio_weight,
            visual_weight=stats.visual_weight,
        )

    @classmethod
    def from_row(cls, row: tuple) -> Generation:
        mean, std, weights, audio_weight, visual_weight = row
        return cls(
            decode_vector(mean),
            decode_vector(std),
            decode_vector(weights),
            audio_weight,
            visual_weight,
        )

    def multipliers(self, column: str) -> np.ndarray:
        return column_multipliers(
            column, self.feature_weights, self.audio_weight, self.visual_weight
        )

    def transform(self, audio: np.ndarray, visual: np.ndarray, column: str) -> np.ndarray:
        """Rows of raw audio (n, 68) and visual (n, 354) features -> rows of ``column``."""
        z = (np.hstack([audio, visual]).astype(np.float64) - self.mean) / self.std
        if column == "audio":
            z = z[:, AUDIO]
        elif column == "visual":
            z = z[:, VISUAL]
        return z * self.multipliers(column)

    def vectors(
        self, audio: Iterable[float], visual: Iterable[float], has_audio: bool, has_visual: bool
    ) -> dict[str, np.ndarray | None]:
        """The three feature columns of one video. A missing modality gives a NULL column (a
        zero vector has no cosine distance) and a zero block in ``both``, i.e. "at the catalog
        mean", so the other modality alone decides; neither modality -> ``both`` is NULL too.
        """
        z = (np.concatenate([audio, visual]).astype(np.float64) - self.mean) / self.std
        # The single-modality columns carry no modality weight (it is ranking-neutral there).
        audio_col = z[AUDIO] * self.multipliers("audio") if has_audio else None
        visual_col = z[VISUAL] * self.multipliers("visual") if has_visual else None
        both = None
        if has_audio or has_visual:
            both = np.concatenate(
                [
                    audio_col * self.audio_weight if has_audio else np.zeros(AUDIO_DIM),
                    visual_col * self.visual_weight if has_visual else np.zeros(VISUAL_DIM),
                ]
            )
        return {"audio": audio_col, "visual": visual_col, "both": both}


# Searches read the generation on every explanation; writers (materialize_video) always load
# it fresh. The copy lives GENERATION_CACHE_SECONDS at most and is dropped at once when the
# result cache's epoch moves or this process writes stats (search.signals).
GENERATION_CACHE_SECONDS = 5.0
_cached_generation: tuple[float, Generation | None] | None = None


def cached_generation() -> Generation | None:
    """load_generation() as of at most GENERATION_CACHE_SECONDS ago, for searches."""
    global _cached_generation
    now = time.monotonic()
    if _cached_generation is None or now - _cached_generation[0] > GENERATION_CACHE_SECONDS:
        _cached_generation = (now, load_generation())
    return _cached_generation[1]


def forget_cached_generation() -> None:
    global _cached_generation
    _cached_generation = None


def load_generation() -> Generation | None:
    """The stored generation, or None before the first materialisation (one cheap query)."""
    row = (
        FeatureStats.objects.filter(pk=1)
        .values_list(
            vector_bytes("mean"),
            vector_bytes("std"),
            vector_bytes("feature_weights"),
            "audio_weight",
            "visual_weight",
        )
        .first()
    )
    return Generation.from_row(row) if row else None


# --------------------------------------------------------------------------- fitting


class _RunningStats:
    """Mean and population variance merged batch by batch (Chan et al.), in float64."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)

    def add(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        n_b = len(rows)
        mean_b = rows.mean(axis=0)
        m2_b = ((rows - mean_b) ** 2).sum(axis=0)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta**2 * self.n * n_b / n
        self.n = n

    def std(self) -> np.ndarray:
        if self.n == 0:
            return np.ones_like(self.mean)
        std = np.sqrt(self.m2 / self.n)
        return np.where(std < STD_FLOOR, 1.0, std)


def _feature_rows(queryset) -> Iterator[list[tuple]]:
    """(video_id, audio, visual, has_audio, has_video, music) in batches, streamed."""
    rows = queryset.order_by("video_id").values_list(
        "video_id",
        vector_bytes("audio_mean"),
        vector_bytes("visual_mean"),
        "video__has_audio",
        "video__has_video",
        vector_bytes("music_mean"),
    )
    batch: list[tuple] = []
    for video_id, audio, visual, has_audio, has_video, music in rows.iterator(
        chunk_size=BATCH_SIZE
    ):
        batch.append(
            (
                video_id,
                decode_vector(audio),
                decode_vector(visual),
                has_audio,
                has_video,
                decode_vector(music),
            )
        )
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def fit_stats() -> FeatureStats:
    """Fit per-feature mean/std over the catalog (not queries) and snapshot the weights.

    Audio stats use only videos with an audio track, visual stats only videos with pictures
    (``has_audio``/``has_video`` not False), so silent videos don't drag the audio mean.
    """
    audio_stats, visual_stats = _RunningStats(AUDIO_DIM), _RunningStats(VISUAL_DIM)
    n_videos = 0
    catalog = VideoFeatures.objects.filter(in_catalog("video"))
    for batch in _feature_rows(catalog):
        n_videos += len(batch)  # rows: (id, audio, visual, has_audio, has_video, music)
        audio_stats.add(np.array([r[1] for r in batch if r[3] is not False], dtype=np.float64))
        visual_stats.add(np.array([r[2] for r in batch if r[4] is not False], dtype=np.float64))
    settings = SearchSettings.load()
    stats = FeatureStats(
        mean=np.concatenate([audio_stats.mean, visual_stats.mean]),
        std=np.concatenate([audio_stats.std(), visual_stats.std()]),
        feature_weights=current_feature_weights(),
        audio_weight=settings.audio_weight,
        visual_weight=settings.visual_weight,
        n_videos=n_videos,
        n_with_audio=audio_stats.n,
        n_with_visual=visual_stats.n,
        fitted_at=timezone.now(),
    )
    stats.save()
    return stats


# --------------------------------------------------------------------------- writing


def _lock(*, exclusive: bool) -> None:
    """Transaction-scoped advisory lock: a full re-materialisation (exclusive) waits for
    single-video materialisations in flight (shared) to commit, and they wait for it, so no
    video is left with vectors of the previous generation."""
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fn}(%s)", [_ADVISORY_LOCK_KEY])


def _write(generation: Generation, batch: list[tuple]) -> None:
    rows = []
    for video_id, audio, visual, has_audio, has_video, music in batch:
        vectors = generation.vectors(audio, visual, has_audio is not False, has_video is not False)
        music = music if has_audio is not False else None
        rows.append(VideoVector(video_id=video_id, music=music, **vectors))
    # Upsert: keeps `code` (written by the encoder) and creates missing rows.
    VideoVector.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["video"],
        update_fields=[*WRITTEN_COLUMNS, "updated_at"],
    )
    result_cache.bump_on_commit()  # bulk writes send no model signals


def refit_and_materialize_all(progress: ProgressCallback | None = None) -> int:
    """Refit the stats and rewrite the audio/visual/both vectors of every video (catalog and
    queries) in ONE transaction; returns how many videos were written.

    Until it commits, concurrent searches see the previous generation (PostgreSQL MVCC), so a
    search never mixes old and new vectors.
    """
    with transaction.atomic():
        _lock(exclusive=True)
        if progress:
            progress(0, 0, "fitting statistics")
        generation = Generation.from_stats(fit_stats())
        everything = VideoFeatures.objects.all()
        total = everything.count()
        done = 0
        for batch in _feature_rows(everything):
            _write(generation, batch)
            done += len(batch)
            if progress:
                progress(done, total, "writing vectors")
        # Vectors of videos whose features were deleted would be from another generation.
        VideoVector.objects.filter(video__features__isnull=True).exclude(
            audio=None, visual=None, both=None, music=None
        ).update(audio=None, visual=None, both=None, music=None, updated_at=timezone.now())
        result_cache.bump_on_commit()
    logger.info("materialised the search vectors of %d videos", done)
    return done


def materialize_video(video_id: int) -> str | None:
    """Write the audio/visual/both vectors of one video (new catalog video or query) with the
    current generation; fits the stats first if there are none yet.

    Returns why the whole catalog should be refitted now (None: no need); scheduling that is
    the pipeline's job. Raises MaterializationError when the video has no extracted features.
    """
    with transaction.atomic():
        _lock(exclusive=False)
        rows = list(_feature_rows(VideoFeatures.objects.filter(video_id=video_id)))
        if not rows:
            raise MaterializationError(f"video {video_id} has no extracted features yet")
        generation = load_generation() or Generation.from_stats(fit_stats())
        _write(generation, rows[0])
    return refit_reason()


def refit_reason() -> str | None:
    """Statistics fitted on the first few videos of a growing catalog are crude: once the
    catalog has doubled since the fit, it is time to refit and re-materialise."""
    stats = FeatureStats.objects.only("n_videos").first()
    if stats is None:
        return None
    catalog = VideoFeatures.objects.filter(in_catalog("video")).count()
    if catalog >= 2 * max(stats.n_videos, 1) and catalog >= 4:
        return f"catalog grew from {stats.n_videos} to {catalog} videos since the last fit"
    return None


# --------------------------------------------------------------------------- runs (the job)


def waiting_runs() -> list[Materialization]:
    """Runs queued and not started, newest first: a second one would only repeat the work."""
    return list(Materialization.objects.filter(status=MaterializationStatus.QUEUED))


def lock_runs() -> None:
    """Serialise the creation of runs (two processes must not both add one); transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RUNS_LOCK_KEY])


def discard_runs(runs: list[Materialization]) -> None:
    """Forget queued runs another run does the work of."""
    Materialization.objects.filter(
        pk__in=[run.pk for run in runs], status=MaterializationStatus.QUEUED
    ).delete()


def create_run(reason: str) -> Materialization:
    return Materialization.objects.create(reason=reason[:200])


def set_run_job(run: Materialization, job_id: str) -> None:
    Materialization.objects.filter(pk=run.pk).update(job_id=job_id)
    run.job_id = job_id


def run_materialization(run_id: int | None = None, progress: ProgressCallback | None = None) -> int:
    """Execute one Materialization (creating it when ``run_id`` is None), recording its status."""
    if run_id is None:
        run = Materialization.objects.create(reason="run directly")
    else:
        run = Materialization.objects.get(pk=run_id)
    Materialization.objects.filter(pk=run.pk).update(
        status=MaterializationStatus.RUNNING, started_at=timezone.now(), error=""
    )
    try:
        count = refit_and_materialize_all(progress=progress)
    except Exception as exc:
        Materialization.objects.filter(pk=run.pk).update(
            status=MaterializationStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    Materialization.objects.filter(pk=run.pk).update(
        status=MaterializationStatus.DONE, finished_at=timezone.now(), n_vectors=count
    )
    return count
