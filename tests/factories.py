"""factory_boy factories for test data: one per model of the project, plus helpers for the
shapes the tests need again and again (a video with segments, features and search vectors).

Vectors are seeded float32 arrays of the column's dimension (``seed`` is a factory parameter;
by default a per-factory sequence), so a test run is reproducible. pgvector columns take NumPy
arrays as they are.
"""

from __future__ import annotations

import numpy as np
from django.utils import timezone
from factory import LazyAttribute, LazyFunction, Sequence, SubFactory, Trait
from factory.django import DjangoModelFactory

from catalog.models import Genre, TrackMetadata, Video, VideoSource, VideoStatus
from evaluation.models import CatalogMap, EvaluationRun, MapPoint, WorkStatus
from evaluation.services import settings_snapshot
from features.definitions import FEATURE_DEFINITIONS
from features.models import (
    AUDIO_DIM,
    BOTH_DIM,
    MUSIC_DIM,
    MUSIC_TAG_COUNT,
    VISUAL_DIM,
    FeatureDefinition,
    Modality,
    Segment,
    VideoFeatures,
)
from ml.models import ModelVersion
from pipeline.models import RunPlace, RunState, StageRun
from search.models import (
    CODE_DIM,
    FeatureStats,
    Materialization,
    Metric,
    Representation,
    Search,
    SearchSettings,
    VideoVector,
)

SEGMENT_SECONDS = 10.0
DEFAULT_MUSIC_MODEL = "MSD_musicnn"

# Independent random streams per column, so audio and visual of one seed are unrelated.
_AUDIO, _VISUAL, _MUSIC, _TAGS, _CODE = range(5)


def random_vector(dim: int, seed: int) -> list[float]:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32).tolist()


def random_array(dim: int, seed: int, stream: int = 0) -> np.ndarray:
    """A reproducible float32 standard-normal vector of ``dim`` values."""
    return np.random.default_rng([stream, seed]).standard_normal(dim).astype(np.float32)


def _music(seed: int) -> np.ndarray:
    # Like MusiCNN embeddings: non-negative.
    return np.abs(random_array(MUSIC_DIM, seed, _MUSIC))


def _tags(seed: int) -> np.ndarray:
    return np.random.default_rng([_TAGS, seed]).uniform(0, 1, MUSIC_TAG_COUNT).astype(np.float32)


# --- catalog ---------------------------------------------------------------------------------


class GenreFactory(DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("name",)

    name = Sequence(lambda n: f"Genre {n}")


class VideoFactory(DjangoModelFactory):
    """A ready catalog video (no media file, no features: see ``ready_video``).

    ``pending=True``: a fresh video as an import creates it (status pending, nothing probed).
    """

    class Meta:
        model = Video

    class Params:
        pending = Trait(
            status=VideoStatus.PENDING, duration_seconds=None, has_audio=None, has_video=None
        )

    title = Sequence(lambda n: f"Song {n}")
    artist = Sequence(lambda n: f"Artist {n}")
    source = VideoSource.LOCAL
    status = VideoStatus.READY
    duration_seconds = 60.0
    has_audio = True
    has_video = True


class TrackMetadataFactory(DjangoModelFactory):
    class Meta:
        model = TrackMetadata

    video = SubFactory(VideoFactory)
    tempo = 120.0
    energy = 0.5
    danceability = 0.5
    sources = LazyFunction(lambda: {"tempo": "spotify", "energy": "spotify"})


# --- features --------------------------------------------------------------------------------


def _definition_name(position: int) -> str:
    """The product's name of the feature at ``position`` (f###: beyond the 422)."""
    return next((d[1] for d in FEATURE_DEFINITIONS if d[0] == position), f"f{position:03d}")


class FeatureDefinitionFactory(DjangoModelFactory):
    """The definition at ``position`` (get_or_create: a data migration made all 422)."""

    class Meta:
        model = FeatureDefinition
        django_get_or_create = ("position",)

    position = Sequence(lambda n: n % BOTH_DIM)
    name = LazyAttribute(lambda o: _definition_name(o.position))
    modality = LazyAttribute(
        lambda o: Modality.AUDIO if o.position < AUDIO_DIM else Modality.VISUAL
    )
    weight = 1.0


def ensure_feature_definitions() -> None:
    """All 422 definitions, whatever an earlier transactional test flushed."""
    have = set(FeatureDefinition.objects.values_list("position", flat=True))
    FeatureDefinition.objects.bulk_create(
        FeatureDefinitionFactory.build(position=p) for p in range(BOTH_DIM) if p not in have
    )


class SegmentFactory(DjangoModelFactory):
    """The next 10 s segment of ``video`` with random raw features (``seconds``: its length)."""

    class Meta:
        model = Segment

    class Params:
        seed = Sequence(int)
        seconds = SEGMENT_SECONDS
        with_music = Trait(
            music=LazyAttribute(lambda o: _music(o.seed)),
            music_tags=LazyAttribute(lambda o: _tags(o.seed)),
        )

    video = SubFactory(VideoFactory)
    index = LazyAttribute(lambda o: o.video.segments.count() if o.video.pk else 0)
    start_seconds = LazyAttribute(lambda o: o.index * o.seconds)
    end_seconds = LazyAttribute(lambda o: o.start_seconds + o.seconds)
    audio = LazyAttribute(lambda o: random_array(AUDIO_DIM, o.seed, _AUDIO))
    visual = LazyAttribute(lambda o: random_array(VISUAL_DIM, o.seed, _VISUAL))
    music = None
    music_tags = None


class VideoFeaturesFactory(DjangoModelFactory):
    """Raw per-video means (random unless given); ``music_model`` follows ``music_mean``."""

    class Meta:
        model = VideoFeatures

    class Params:
        seed = Sequence(int)
        with_music = Trait(
            music_mean=LazyAttribute(lambda o: _music(o.seed)),
            music_tags=LazyAttribute(lambda o: _tags(o.seed)),
        )

    video = SubFactory(VideoFactory)
    segment_count = 1
    audio_mean = LazyAttribute(lambda o: random_array(AUDIO_DIM, o.seed, _AUDIO))
    visual_mean = LazyAttribute(lambda o: random_array(VISUAL_DIM, o.seed, _VISUAL))
    music_mean = None
    music_tags = None
    music_model = LazyAttribute(lambda o: "" if o.music_mean is None else DEFAULT_MUSIC_MODEL)


# --- search ----------------------------------------------------------------------------------


def _both(o) -> np.ndarray | None:
    if o.audio is None or o.visual is None:
        return None
    return np.concatenate([np.asarray(o.audio, np.float32), np.asarray(o.visual, np.float32)])


class VideoVectorFactory(DjangoModelFactory):
    """Search vectors of a video: random audio and visual, ``both`` their concatenation; no
    code or music unless ``with_code`` / ``with_music`` (or given). Not standardised: a test
    that needs the product's vectors calls search.materialize.refit_and_materialize_all()."""

    class Meta:
        model = VideoVector

    class Params:
        seed = Sequence(int)
        with_code = Trait(code=LazyAttribute(lambda o: random_array(CODE_DIM, o.seed, _CODE)))
        with_music = Trait(music=LazyAttribute(lambda o: _music(o.seed)))

    video = SubFactory(VideoFactory)
    audio = LazyAttribute(lambda o: random_array(AUDIO_DIM, o.seed, _AUDIO))
    visual = LazyAttribute(lambda o: random_array(VISUAL_DIM, o.seed, _VISUAL))
    both = LazyAttribute(_both)
    code = None
    music = None


class _SingletonFactory(DjangoModelFactory):
    """The pk=1 row, created or updated with the given fields (its save() forces pk=1)."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj = model_class.objects.filter(pk=1).first() or model_class()
        for name, value in kwargs.items():
            setattr(obj, name, value)
        obj.save()
        return obj


class SearchSettingsFactory(_SingletonFactory):
    """SearchSettingsFactory(k=5): the singleton with these fields changed, the rest kept."""

    class Meta:
        model = SearchSettings


class FeatureStatsFactory(_SingletonFactory):
    """The singleton standardisation statistics: identity (mean 0, std 1, weights 1)."""

    class Meta:
        model = FeatureStats

    mean = LazyFunction(lambda: np.zeros(BOTH_DIM, np.float32))
    std = LazyFunction(lambda: np.ones(BOTH_DIM, np.float32))
    feature_weights = LazyFunction(lambda: np.ones(BOTH_DIM, np.float32))
    n_videos = 0
    fitted_at = LazyFunction(timezone.now)


class SearchFactory(DjangoModelFactory):
    class Meta:
        model = Search

    query_video = SubFactory(VideoFactory, is_query=True)
    representation = Representation.BOTH
    metric = Metric.COSINE
    boost = 1.0
    k = 10


class MaterializationFactory(DjangoModelFactory):
    class Meta:
        model = Materialization

    reason = "test"
    job_id = Sequence(lambda n: f"materialize-{n}")


# --- ml, pipeline ----------------------------------------------------------------------------


class ModelVersionFactory(DjangoModelFactory):
    """A trained model's record (no artifacts on disk); inactive unless is_active=True."""

    class Meta:
        model = ModelVersion

    name = Sequence(lambda n: f"model {n}")
    artifact_dir = Sequence(lambda n: f"models/test-{n}")
    is_active = False
    metrics = LazyFunction(dict)


class StageRunFactory(DjangoModelFactory):
    class Meta:
        model = StageRun

    video = SubFactory(VideoFactory, status=VideoStatus.EXTRACTING)
    stage = LazyAttribute(lambda o: o.video.status)
    job_id = Sequence(lambda n: f"test-run-{n}")
    place = RunPlace.QUEUE
    state = RunState.QUEUED
    timeout_seconds = 600


# --- evaluation ------------------------------------------------------------------------------


class EvaluationRunFactory(DjangoModelFactory):
    """A queued run; ``finished=True``: done, with (empty unless given) figures."""

    class Meta:
        model = EvaluationRun

    class Params:
        finished = Trait(
            status=WorkStatus.DONE,
            progress=1.0,
            started_at=LazyFunction(timezone.now),
            finished_at=LazyFunction(timezone.now),
        )

    parameters = LazyFunction(lambda: {"representations": ["both"], "metrics": ["cosine"]})
    settings = LazyFunction(settings_snapshot)  # SearchSettings at the start, as stored
    figures = LazyFunction(dict)


class CatalogMapFactory(DjangoModelFactory):
    class Meta:
        model = CatalogMap

    representation = Representation.BOTH
    metric = Metric.COSINE
    method = "pca"


class MapPointFactory(DjangoModelFactory):
    class Meta:
        model = MapPoint

    catalog_map = SubFactory(CatalogMapFactory)
    video = SubFactory(VideoFactory)
    x = Sequence(float)
    y = Sequence(lambda n: -float(n))


# --- shapes the tests need repeatedly ----------------------------------------------------------


def add_segments(
    video: Video,
    rows: np.ndarray | int = 3,
    *,
    music: np.ndarray | None = None,
    seconds: float = SEGMENT_SECONDS,
) -> list[Segment]:
    """Segments 0..n-1 of ``video``: the given raw (n, 422) feature rows (and (n, 200) music
    embeddings), or ``rows`` random ones."""
    if isinstance(rows, int):
        return [SegmentFactory(video=video, index=i, seconds=seconds) for i in range(rows)]
    rows = np.asarray(rows, np.float32)
    return [
        SegmentFactory(
            video=video,
            index=i,
            seconds=seconds,
            audio=row[:AUDIO_DIM],
            visual=row[AUDIO_DIM:],
            music=None if music is None else np.asarray(music[i], np.float32),
        )
        for i, row in enumerate(rows)
    ]


def ready_video(
    segments: np.ndarray | int = 3,
    *,
    music: np.ndarray | None = None,
    code: np.ndarray | None = None,
    vectors: bool = True,
    **fields,
) -> Video:
    """A ready catalog video with its segments (``segments``: raw (n, 422) rows or a count of
    random ones), its features (their means; ``music``: per-segment embeddings) and, with
    ``vectors``, its search vectors (the raw means, not standardised; ``code`` if given)."""
    video = VideoFactory(**fields)
    made = add_segments(video, segments, music=music)
    audio = np.array([s.audio for s in made], np.float32)
    visual = np.array([s.visual for s in made], np.float32)
    music_mean = None if music is None else np.asarray(music, np.float32).mean(axis=0)
    VideoFeaturesFactory(
        video=video,
        segment_count=len(made),
        audio_mean=audio.mean(axis=0),
        visual_mean=visual.mean(axis=0),
        music_mean=music_mean,
    )
    if vectors:
        VideoVectorFactory(
            video=video,
            audio=audio.mean(axis=0),
            visual=visual.mean(axis=0),
            code=code,
            music=music_mean if video.has_audio is not False else None,
        )
    return video


# --- playlists -------------------------------------------------------------------------------

from playlists.models import Playlist, PlaylistEntry  # noqa: E402
from playlists.services import hash_secret  # noqa: E402

PLAYLIST_SECRET = "secret-for-tests"


class PlaylistFactory(DjangoModelFactory):
    """An empty playlist whose secret is PLAYLIST_SECRET (entries: PlaylistEntryFactory)."""

    class Meta:
        model = Playlist

    name = Sequence(lambda n: f"Playlist {n}")
    secret_hash = LazyFunction(lambda: hash_secret(PLAYLIST_SECRET))


class PlaylistEntryFactory(DjangoModelFactory):
    class Meta:
        model = PlaylistEntry

    playlist = SubFactory(PlaylistFactory)
    video = SubFactory(VideoFactory)
    position = LazyAttribute(lambda o: o.playlist.entries.count())
