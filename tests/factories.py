"""factory_boy factories for test data."""

from __future__ import annotations

import factory
import numpy as np

from catalog.models import Genre, TrackMetadata, Video, VideoSource, VideoStatus


class GenreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Genre {n}")


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video

    title = factory.Sequence(lambda n: f"Song {n}")
    artist = factory.Faker("name")
    source = VideoSource.LOCAL
    status = VideoStatus.READY
    duration_seconds = 60.0
    has_audio = True
    has_video = True


class TrackMetadataFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackMetadata

    video = factory.SubFactory(VideoFactory)
    tempo = 120.0
    energy = 0.5
    danceability = 0.5
    sources = factory.LazyFunction(lambda: {"tempo": "spotify", "energy": "spotify"})


def random_vector(dim: int, seed: int) -> list[float]:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32).tolist()
