"""The batch k-NN of the evaluation ranks exactly like find_similar(exact=True)."""

import numpy as np
import pytest

from catalog.models import Video
from evaluation.neighbours import NO_GROUP, nearest_pools, ranked
from evaluation.selectors import catalog_arrays
from search.materialize import refit_and_materialize_all
from search.models import VideoVector
from search.ranking import find_similar
from tests.evaluation import clustered_catalog

pytestmark = pytest.mark.django_db


def batch_results(representation: str, metric: str, k: int, boost: float, artist=False):
    catalog = catalog_arrays(representation)
    pools = nearest_pools(catalog, np.arange(len(catalog)), metric, k * 10, exclude_artist=artist)
    rows, _ = ranked(catalog, pools, k, boost)
    return {
        int(catalog.ids[i]): [int(catalog.ids[r]) for r in rows[i] if r != NO_GROUP]
        for i in range(len(catalog))
    }


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("boost", [1.0, 0.6])
def test_same_results_as_the_search_for_every_video(metric, boost):
    videos = clustered_catalog(per_genre=6)
    # Predictions that disagree with the curated genre for some, so the boost has work to do.
    metal, techno = videos["Metal"], videos["Techno"]
    for video in metal[:3]:
        video.predicted_genre = techno[0].genre
        video.save()
    # A zero music vector: no cosine distance to anything.
    VideoVector.objects.filter(pk=techno[3].pk).update(music=np.zeros(200, np.float32))
    for representation in ("both", "audio", "music", "code"):
        batch = batch_results(representation, metric, 5, boost)
        for video in Video.objects.filter(pk__in=batch):
            try:
                expected = [
                    m.video.pk
                    for m in find_similar(
                        video,
                        representation=representation,
                        metric=metric,
                        k=5,
                        boost=boost,
                        exact=True,
                    )
                ]
            except Exception:  # the zero vector under cosine: the search refuses it
                expected = []
            assert batch[video.pk] == expected, (representation, video.pk)


def test_artist_filter_drops_the_querys_artist():
    videos = clustered_catalog(per_genre=5, codes=False)
    for i, video in enumerate(videos["Metal"]):
        video.artist = "The Same Band" if i < 3 else "  the SAME   band " if i == 3 else "Other"
        video.save()
    refit_and_materialize_all()
    same = {v.pk for v in videos["Metal"][:4]}
    unfiltered = batch_results("both", "cosine", 3, 1.0)
    filtered = batch_results("both", "cosine", 3, 1.0, artist=True)
    for pk in same:
        assert same & set(unfiltered[pk])  # near in sound, so they find each other ...
        assert not same & set(filtered[pk])  # ... unless the artist filter is on
        assert len(filtered[pk]) == 3
