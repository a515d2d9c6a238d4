"""tests/factories.py: a factory per model, each making a valid row; the shared helpers."""

import numpy as np
import pytest
from django.apps import apps
from pgvector.django import VectorField

from catalog.models import Video
from features.models import AUDIO_DIM, BOTH_DIM, VISUAL_DIM, FeatureDefinition
from search.models import SearchSettings
from tests import factories

pytestmark = pytest.mark.django_db

APPS = ("catalog", "features", "search", "ml", "pipeline", "evaluation", "playlists")
FACTORIES = sorted(
    (
        value
        for value in vars(factories).values()
        if isinstance(value, type)
        and issubclass(value, factories.DjangoModelFactory)
        and not value._meta.abstract
    ),
    key=lambda factory: factory.__name__,
)


def test_every_model_has_a_factory():
    models = {model for app in APPS for model in apps.get_app_config(app).get_models()}
    assert {factory._meta.model for factory in FACTORIES} == models


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda factory: factory.__name__)
def test_each_factory_makes_a_valid_row(factory):
    obj = factory()
    stored = type(obj).objects.get(pk=obj.pk)
    # pgvector's VectorField.to_python takes text only, not the arrays it reads back.
    vectors = [f.name for f in stored._meta.fields if isinstance(f, VectorField)]
    stored.full_clean(exclude=vectors)


def test_vectors_are_seeded_and_of_the_columns_dimensions():
    one = factories.VideoVectorFactory(seed=3, with_code=True, with_music=True)
    two = factories.VideoVectorFactory(seed=3)
    assert (len(one.audio), len(one.visual), len(one.both)) == (AUDIO_DIM, VISUAL_DIM, BOTH_DIM)
    assert (len(one.code), len(one.music)) == (40, 200) and two.code is None is two.music
    np.testing.assert_array_equal(one.audio, two.audio)
    np.testing.assert_array_equal(one.both, np.concatenate([one.audio, one.visual]))
    assert not np.allclose(one.audio, factories.VideoVectorFactory(seed=4).audio)


def test_feature_definitions_are_the_migrations_rows():
    assert FeatureDefinition.objects.count() == BOTH_DIM
    first = FeatureDefinition.objects.get(position=0)
    assert factories.FeatureDefinitionFactory(position=0) == first
    FeatureDefinition.objects.filter(position__gte=400).delete()
    factories.ensure_feature_definitions()
    assert FeatureDefinition.objects.count() == BOTH_DIM


def test_search_settings_factory_changes_the_singleton():
    settings = factories.SearchSettingsFactory(k=7)
    again = factories.SearchSettingsFactory(ef_search=50)
    assert settings.pk == again.pk == 1 and SearchSettings.objects.count() == 1
    assert (SearchSettings.load().k, SearchSettings.load().ef_search) == (7, 50)


def test_ready_video_has_segments_features_and_vectors():
    rows = np.arange(2 * BOTH_DIM, dtype=np.float32).reshape(2, BOTH_DIM)
    music = np.stack([np.zeros(200), np.ones(200)]).astype(np.float32)
    made = factories.ready_video(rows, music=music, code=np.ones(40, np.float32))
    video = Video.objects.get(pk=made.pk)  # what was stored
    segments = list(video.segments.order_by("index"))
    spans = [(s.index, s.start_seconds, s.end_seconds) for s in segments]
    assert spans == [(0, 0, 10), (1, 10, 20)]
    np.testing.assert_array_equal(segments[1].visual, rows[1, AUDIO_DIM:])
    assert video.features.segment_count == 2 and video.features.music_model == "MSD_musicnn"
    np.testing.assert_array_equal(video.features.audio_mean, rows[:, :AUDIO_DIM].mean(axis=0))
    np.testing.assert_array_equal(video.features.music_mean, np.full(200, 0.5, np.float32))
    np.testing.assert_array_equal(video.vector.both, rows.mean(axis=0))
    np.testing.assert_array_equal(video.vector.code, np.ones(40))

    random = Video.objects.get(pk=factories.ready_video(4, vectors=False).pk)
    assert random.segments.count() == random.features.segment_count == 4
    assert not hasattr(random, "vector") and random.features.music_mean is None
