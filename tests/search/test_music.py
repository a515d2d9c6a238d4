"""The `music` representation: MusiCNN means searched as they are, videos without audio left
out, shared tags in explanations, and one-modality queries under `both`."""

from __future__ import annotations

import numpy as np
import pytest

from features.models import MUSIC_DIM, MUSIC_TAG_COUNT
from features.musicnn import MSD_TAGS
from search import selectors
from search.explain import SHARED_TAG_MIN, explain_many, shared_tags
from search.forms import SearchParams
from search.materialize import materialize_video, refit_and_materialize_all
from search.models import VideoVector
from search.ranking import RepresentationUnavailable, find_similar
from tests.factories import add_segments
from tests.search import add_video, brute_force, ensure_definitions, raw_features

pytestmark = pytest.mark.django_db


def _music(n: int, seed: int = 3) -> np.ndarray:
    # Like the real embeddings: non-negative, so cosine and Euclidean orders differ.
    return np.abs(np.random.default_rng(seed).standard_normal((n, MUSIC_DIM))).astype(np.float32)


def _tags(**strong: float) -> np.ndarray:
    tags = np.full(MUSIC_TAG_COUNT, 0.01, np.float32)
    for name, value in strong.items():
        tags[MSD_TAGS.index(name.replace("_", " "))] = value
    return tags


@pytest.fixture
def catalog():
    ensure_definitions()
    raw, music = raw_features(12), _music(12)
    videos = [add_video(raw[i], music=music[i], title=f"v{i}") for i in range(12)]
    refit_and_materialize_all()
    return videos, music


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_music_search_ranks_the_raw_embeddings(catalog, metric):
    videos, music = catalog
    query = videos[0]
    got = find_similar(query, representation="music", metric=metric, k=5, boost=1.0, exact=True)
    expected = brute_force(music[1:], music[0], metric, [v.pk for v in videos[1:]], 5)
    assert [m.video.pk for m in got] == [pk for pk, _ in expected]
    assert [m.distance for m in got] == pytest.approx([d for _, d in expected], rel=1e-4)


def test_a_video_without_audio_has_no_music_vector_and_is_left_out(catalog):
    videos, music = catalog
    # A silent film whose features row still carries an embedding must not match as music.
    silent = add_video(raw_features(13)[12], music=music[1], has_audio=False, title="silent")
    materialize_video(silent.pk)
    assert VideoVector.objects.get(video=silent).music is None
    found = find_similar(videos[1], representation="music", metric="cosine", k=11, boost=1.0)
    assert silent.pk not in {m.video.pk for m in found}
    with pytest.raises(RepresentationUnavailable, match="no audio track"):
        find_similar(silent, representation="music", metric="cosine", k=3)


def test_a_video_extracted_before_music_embeddings_says_how_to_add_them(catalog):
    old = add_video(raw_features(13)[12], title="old")
    materialize_video(old.pk)
    with pytest.raises(RepresentationUnavailable, match="extract --only music"):
        find_similar(old, representation="music", metric="cosine", k=3)


def test_shared_tags_need_both_videos():
    query = _tags(rock=0.8, guitar=0.5, pop=0.9, jazz=0.02)
    match = _tags(rock=0.7, guitar=0.6, pop=0.02, jazz=0.9)
    # pop and jazz are strong in one video only: sqrt(0.9 * 0.02) = 0.13 < sqrt(0.5 * 0.6).
    assert shared_tags(query, match, MSD_TAGS) == ("rock", "guitar", "pop")
    assert shared_tags(query, match, MSD_TAGS, n=2) == ("rock", "guitar")
    weak = _tags(rock=SHARED_TAG_MIN**2 / 2)
    assert shared_tags(weak, weak, MSD_TAGS) == ()
    assert shared_tags(None, match, MSD_TAGS) == ()
    assert shared_tags(query[:10], match[:10], MSD_TAGS) == ()


def test_explanations_name_the_shared_tags_and_compare_music_segments():
    ensure_definitions()
    raw, music = raw_features(4), _music(4)
    rock = _tags(rock=0.8, guitar=0.4, male_vocalists=0.3)
    query = add_video(raw[0], music=music[0], music_tags=rock, title="q")
    match = add_video(raw[1], music=music[1], music_tags=rock * 0.9, title="m")
    other_model = add_video(
        raw[2], music=music[2], music_tags=rock, music_model="MTT_musicnn", title="o"
    )
    add_video(raw[3], title="filler")
    segments = _music(3, seed=9)
    add_segments(query, raw[[0, 0]], music=segments[:2])
    add_segments(match, raw[[0, 0]], music=segments[1:])
    refit_and_materialize_all()
    by_music, mixed = explain_many(query, [match, other_model], "music", "cosine")
    assert by_music.shared_tags == ("rock", "guitar", "male vocalists")
    # The same music segment (query #1 = match #0) is the best pair, at distance 0.
    best = by_music.segment_pairs[0]
    assert (best.query_index, best.match_index) == (1, 0)
    assert best.distance == pytest.approx(0.0, abs=1e-6)
    assert mixed.shared_tags == ()  # tags of two different checkpoints are not comparable
    (by_both,) = explain_many(query, [match], "both", "euclidean")
    assert by_both.shared_tags == ("rock", "guitar", "male vocalists")


def _params(representation: str) -> SearchParams:
    return SearchParams(representation, "cosine", 5, 1.0)


def test_an_audio_query_under_both_is_ranked_by_its_sound_alone(catalog):
    videos, music = catalog
    upload = add_video(
        raw_features(13)[12], music=music[0] + 0.01, has_video=False, is_query=True, title="up"
    )
    materialize_video(upload.pk)
    found = selectors.similar(upload, _params("both"), pools=("catalog",))
    assert found.params.representation == "music" and found.requested.representation == "both"
    assert "no picture" in found.notice and "sound alone" in found.notice
    assert found.catalog[0].video.pk == videos[0].pk  # the nearest embedding, not visual noise


def test_an_audio_query_without_music_falls_back_to_the_audio_features(catalog):
    upload = add_video(raw_features(13)[12], has_video=False, is_query=True, title="up")
    materialize_video(upload.pk)
    found = selectors.similar(upload, _params("both"), pools=("catalog",))
    assert found.params.representation == "audio" and "no picture" in found.notice


def test_a_silent_query_under_both_is_ranked_by_its_picture(catalog):
    film = add_video(raw_features(13)[12], has_audio=False, is_query=True, title="film")
    materialize_video(film.pk)
    found = selectors.similar(film, _params("both"), pools=("catalog",))
    assert found.params.representation == "visual" and "no sound" in found.notice
    assert found.catalog


def test_a_full_video_under_both_is_not_changed(catalog):
    videos, _ = catalog
    found = selectors.similar(videos[0], _params("both"), pools=("catalog",))
    assert found.params.representation == "both" and found.notice == ""
