import math
import threading

import numpy as np
import pytest
from django.db import connections

from features.models import AUDIO_DIM, FeatureDefinition
from search.materialize import (
    MaterializationError,
    materialize_video,
    refit_and_materialize_all,
    weights_vector,
)
from search.models import FeatureStats, VideoVector
from search.ranking import RepresentationUnavailable, find_similar
from tests.factories import SearchSettingsFactory, VideoFactory
from tests.search import (
    add_video,
    ensure_definitions,
    feature_weights,
    make_catalog,
    raw_features,
    reference_vectors,
)

pytestmark = pytest.mark.django_db


def _stored(video_ids: list[int], column: str) -> np.ndarray:
    rows = dict(VideoVector.objects.filter(video_id__in=video_ids).values_list("video_id", column))
    return np.array([rows[i] for i in video_ids], dtype=np.float64)


def test_stored_vectors_equal_the_numpy_reference():
    ensure_definitions()
    FeatureDefinition.objects.filter(position__in=[2, 100]).update(weight=3.0)
    FeatureDefinition.objects.filter(position=70).update(weight=0.0)
    SearchSettingsFactory(audio_weight=2.0, visual_weight=0.5)
    videos, raw = make_catalog(12)
    query_raw = raw_features(1, seed=9)[0]
    query = add_video(query_raw, is_query=True)

    assert refit_and_materialize_all() == 13

    ids = [v.pk for v in videos] + [query.pk]
    everything = np.vstack([raw, query_raw])
    # Stats come from the catalog only: the query must not move them.
    expected = reference_vectors(everything, raw, feature_weights(), 2.0, 0.5)
    for column in ("audio", "visual", "both"):
        np.testing.assert_allclose(_stored(ids, column), expected[column], rtol=1e-5, atol=1e-6)
    stats = FeatureStats.objects.get()
    assert (stats.n_videos, stats.n_with_audio, stats.n_with_visual) == (12, 12, 12)
    assert (stats.audio_weight, stats.visual_weight) == (2.0, 0.5)


def test_modality_blocks_have_equal_mean_squared_norm_whatever_their_dimension():
    # Population std over the catalog => mean |z|^2 = dim per block; / sqrt(dim) => 1 each.
    ensure_definitions()
    videos, _ = make_catalog(10)
    refit_and_materialize_all()
    both = _stored([v.pk for v in videos], "both")
    audio_norm = (both[:, :AUDIO_DIM] ** 2).sum(axis=1).mean()
    visual_norm = (both[:, AUDIO_DIM:] ** 2).sum(axis=1).mean()
    assert audio_norm == pytest.approx(1.0, rel=1e-4)
    assert visual_norm == pytest.approx(1.0, rel=1e-4)

    SearchSettingsFactory(audio_weight=2.0)
    refit_and_materialize_all()
    both = _stored([v.pk for v in videos], "both")
    assert (both[:, :AUDIO_DIM] ** 2).sum(axis=1).mean() == pytest.approx(4.0, rel=1e-4)
    assert (both[:, AUDIO_DIM:] ** 2).sum(axis=1).mean() == pytest.approx(1.0, rel=1e-4)


def test_weights_vector_is_the_per_dimension_multiplier():
    ensure_definitions()
    FeatureDefinition.objects.filter(position=5).update(weight=3.0)
    FeatureDefinition.objects.filter(position=AUDIO_DIM + 1).update(weight=0.0)
    SearchSettingsFactory(audio_weight=2.0)

    audio, visual, both = (weights_vector(m) for m in ("audio", "visual", "both"))
    assert (audio.shape, visual.shape, both.shape) == ((68,), (354,), (422,))
    assert audio[5] == pytest.approx(3.0 / math.sqrt(68))
    assert audio[4] == pytest.approx(1.0 / math.sqrt(68))
    assert visual[1] == 0.0 and visual[2] == pytest.approx(1.0 / math.sqrt(354))
    assert both[5] == pytest.approx(6.0 / math.sqrt(68))
    assert both[AUDIO_DIM + 2] == pytest.approx(1.0 / math.sqrt(354))
    with pytest.raises(ValueError, match="column must be one of"):
        weights_vector("code")


def test_video_without_audio_has_null_audio_and_a_zero_audio_block_in_both():
    ensure_definitions()
    videos, raw = make_catalog(8)
    silent_raw = raw_features(1, seed=5)[0]
    silent = add_video(silent_raw, has_audio=False)
    refit_and_materialize_all()

    vv = VideoVector.objects.get(video=silent)
    assert vv.audio is None
    assert np.allclose(np.asarray(vv.both)[:AUDIO_DIM], 0.0)
    # The visual block is the video's real one, and audio stats ignore the silent video.
    fit_visual = np.vstack([raw, silent_raw])
    expected = reference_vectors(np.vstack([silent_raw]), raw, feature_weights())
    expected_visual = reference_vectors(silent_raw[None, :], fit_visual, feature_weights())
    np.testing.assert_allclose(vv.both[AUDIO_DIM:], expected_visual["visual"][0], rtol=1e-5)
    assert not np.allclose(expected["visual"], expected_visual["visual"])  # stats differ
    stats = FeatureStats.objects.get()
    assert (stats.n_videos, stats.n_with_audio, stats.n_with_visual) == (9, 8, 9)

    # Not searchable by audio, but by 'both' (cosine of its half-zero vector is fine).
    with pytest.raises(RepresentationUnavailable, match="no audio track"):
        find_similar(silent, representation="audio", metric="cosine", k=3, exact=True)
    audio_hits = find_similar(videos[0], representation="audio", metric="cosine", k=20)
    assert silent.pk not in {m.video.pk for m in audio_hits}
    both_hits = find_similar(silent, representation="both", metric="cosine", k=3, exact=True)
    assert len(both_hits) == 3 and all(not math.isnan(m.distance) for m in both_hits)


def test_materialize_video_uses_the_stored_generation_and_fits_first_if_needed():
    ensure_definitions()
    videos, raw = make_catalog(6)
    assert not FeatureStats.objects.exists()
    materialize_video(videos[0].pk)  # no stats yet: fitted on the catalog first
    assert FeatureStats.objects.get().n_videos == 6
    refit_and_materialize_all()

    # A weight edited but not re-materialised yet: a new video must land in the *stored*
    # space (old weights), or it would not be comparable with the others.
    FeatureDefinition.objects.filter(position=1).update(weight=10.0)
    new_raw = raw_features(1, seed=3)[0]
    newcomer = add_video(new_raw, is_query=True)
    materialize_video(newcomer.pk)
    expected = reference_vectors(new_raw[None, :], raw, np.ones(422))
    np.testing.assert_allclose(
        VideoVector.objects.get(video=newcomer).audio, expected["audio"][0], rtol=1e-5
    )


def test_materialize_video_without_features_is_a_clear_error():
    video = VideoFactory()
    with pytest.raises(MaterializationError, match=f"video {video.pk} has no extracted features"):
        materialize_video(video.pk)


def test_refit_is_one_atomic_block():
    ensure_definitions()
    videos, _ = make_catalog(5)
    refit_and_materialize_all()
    before = _stored([v.pk for v in videos], "both")
    fitted_at = FeatureStats.objects.get().fitted_at
    FeatureDefinition.objects.filter(position=0).update(weight=7.0)

    def fail_after_writing(done: int, total: int, stage: str) -> None:
        if stage == "writing vectors" and done == total:
            raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        refit_and_materialize_all(progress=fail_after_writing)
    # Stats and every vector rolled back together.
    np.testing.assert_array_equal(_stored([v.pk for v in videos], "both"), before)
    assert FeatureStats.objects.get().fitted_at == fitted_at


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_search_sees_the_previous_generation_until_commit():
    ensure_definitions()
    videos, _ = make_catalog(5)
    refit_and_materialize_all()
    before = _stored([videos[0].pk], "both")[0]
    FeatureDefinition.objects.filter(position=0).update(weight=7.0)
    seen: dict[str, object] = {}

    def read_in_another_connection() -> None:
        try:
            seen["both"] = np.asarray(VideoVector.objects.get(video=videos[0]).both)
            seen["hits"] = find_similar(
                videos[1], representation="both", metric="euclidean", k=4, boost=1.0, exact=True
            )
        finally:
            connections.close_all()  # this thread's connection

    def peek(done: int, total: int, stage: str) -> None:
        if stage == "writing vectors" and done == total:  # written, not committed
            thread = threading.Thread(target=read_in_another_connection)
            thread.start()
            thread.join(timeout=30)

    refit_and_materialize_all(progress=peek)
    np.testing.assert_array_equal(seen["both"], before)
    old_distance = {m.video.pk: m.distance for m in seen["hits"]}
    after = _stored([videos[0].pk], "both")[0]
    assert not np.allclose(after, before)
    new_hits = find_similar(
        videos[1], representation="both", metric="euclidean", k=4, boost=1.0, exact=True
    )
    assert {m.video.pk: m.distance for m in new_hits}[videos[0].pk] != pytest.approx(
        old_distance[videos[0].pk]
    )


def test_growing_catalog_schedules_a_refit_once_it_doubles():
    from pipeline import steps
    from search.materialize import materialize_video, refit_and_materialize_all
    from search.models import Materialization

    videos, raw = make_catalog(4)
    refit_and_materialize_all()
    newcomers = [add_video(r) for r in raw_features(3, seed=9)]
    assert materialize_video(newcomers[0].pk) is None  # 5 videos, fitted on 4: not stale yet
    for video in newcomers[1:]:
        materialize_video(video.pk)
    add = add_video(raw_features(1, seed=11)[0])
    # The pipeline's stage schedules the refit the search app asks for: 8 videos >= 2 x 4.
    assert "grew from 4 to 8" in steps.materialize(add.pk)
    run = Materialization.objects.get()
    assert "grew from 4 to 8" in run.reason
