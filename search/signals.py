"""What moves the result cache's epoch (search.result_cache): every committed write of a row
that a similar-video answer reads."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from catalog.models import Genre, TrackMetadata, Video
from features.models import FeatureDefinition, Segment, VideoFeatures
from ml.models import ModelVersion
from search import materialize, result_cache
from search.models import FeatureStats, SearchSettings, VideoVector

# The rows a similar-video answer is computed from or shows.
SEARCHED_MODELS = (
    Genre,
    TrackMetadata,
    Video,
    FeatureDefinition,
    Segment,
    VideoFeatures,
    ModelVersion,
    FeatureStats,
    SearchSettings,
    VideoVector,
)


def _written(sender, instance, **kwargs) -> None:
    result_cache.bump_on_commit()


def _stats_written(sender, instance, **kwargs) -> None:
    # This process's copy at once, even before commit (dropping a copy is always harmless);
    # SearchSettings.save() does the same for the settings.
    materialize.forget_cached_generation()


def connect() -> None:
    result_cache.when_stale(SearchSettings.forget_cached)
    result_cache.when_stale(materialize.forget_cached_generation)
    post_save.connect(_stats_written, sender=FeatureStats, dispatch_uid="forget-generation")
    for model in SEARCHED_MODELS:
        post_save.connect(_written, sender=model, dispatch_uid=f"result-cache-{model.__name__}")
        post_delete.connect(
            _written, sender=model, dispatch_uid=f"result-cache-del-{model.__name__}"
        )
