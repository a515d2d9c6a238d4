"""Several seeds (search/seeds.py, POST /api/searches/seeds/, /seeds/): planted clusters."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import VideoStatus
from search import seeds
from search.models import CODE_DIM, Search
from search.ranking import InvalidSearchParameter
from tests.factories import VideoFactory, VideoVectorFactory

pytestmark = pytest.mark.django_db

URL = "/api/searches/seeds/"


def _unit(v):
    return v / np.linalg.norm(v)


def _cluster(centre, n, rng, noise=0.02, **fields):
    ids = []
    for _ in range(n):
        video = VideoFactory(**fields)
        code = (_unit(centre) + rng.normal(0, noise, CODE_DIM)).astype(np.float32)
        VideoVectorFactory(video=video, code=code)
        ids.append(video.pk)
    return ids


@pytest.fixture
def planted():
    """Clusters A, B (near A: cosine 0.8) and C (far from both), 6 members each, and 30
    random videos."""
    rng = np.random.default_rng(3)
    e = np.eye(CODE_DIM)
    clusters = {
        "A": _cluster(e[0], 6, rng),
        "B": _cluster(0.8 * e[0] + 0.6 * e[1], 6, rng),
        "C": _cluster(e[2], 6, rng),
    }
    for _ in range(30):
        VideoVectorFactory(video=VideoFactory(), code=rng.normal(0, 1, CODE_DIM))
    return clusters


def _search(seed_ids, exclude=(), k=10, method=seeds.DEFAULT_METHOD):
    found = seeds.more_like_these(
        seed_ids, exclude, representation="code", metric="cosine", k=k, method=method
    )
    return [m.video.pk for m in found.matches]


@pytest.mark.parametrize("method", seeds.METHODS)
def test_seeds_from_two_clusters_return_both_clusters(planted, method):
    a, c = planted["A"], planted["C"]
    got = _search([a[0], c[0]], k=10, method=method)
    assert set(got) == set(a[1:]) | set(c[1:])


@pytest.mark.parametrize("method", seeds.METHODS)
def test_a_negative_seed_pushes_its_cluster_out(planted, method):
    a, b = planted["A"], planted["B"]
    without = _search([a[0], a[1]], k=8, method=method)
    assert set(a[2:]) <= set(without)
    assert set(without) & set(b), "B is A's neighbour: it fills the rest without a negative"
    got = _search([a[0], a[1]], [b[0]], k=8, method=method)
    assert set(a[2:]) <= set(got)
    assert not set(got) & set(b)


@pytest.mark.parametrize("method", seeds.METHODS)
def test_seeds_and_negatives_never_come_back(planted, method):
    a, b = planted["A"], planted["B"]
    got = _search(a[:3], [b[0]], k=40, method=method)
    assert not set(got) & {*a[:3], b[0]}
    assert len(got) == len(set(got))


def test_one_seed_is_a_plain_search(planted):
    a = planted["A"]
    assert set(_search([a[0]], k=5)) == set(a[1:])


@pytest.mark.parametrize(
    ("seed_ids", "exclude", "param", "words"),
    [
        ([], [], "seeds", "at least one"),
        (list(range(1, 12)), [], "seeds", "at most 10"),
        ("dup", [], "seeds", "duplicate"),
        ("both", "both", "exclude", "both a seed and excluded"),
        ([999999], [], "seeds", "no video with id 999999"),
        ("a", [999999], "exclude", "no video with id 999999"),
    ],
)
def test_bad_seeds_name_the_parameter(planted, seed_ids, exclude, param, words):
    a = planted["A"]
    if seed_ids == "dup":
        seed_ids = [a[0], a[0]]
    if seed_ids == "both":
        seed_ids, exclude = [a[0], a[1]], [a[1]]
    if seed_ids == "a":
        seed_ids = [a[0]]
    with pytest.raises(InvalidSearchParameter) as raised:
        _search(seed_ids, exclude)
    assert raised.value.param == param
    assert words in raised.value.message


def test_a_seed_not_ready_or_without_the_representation_is_refused(planted):
    pending = VideoFactory(status=VideoStatus.EXTRACTING)
    no_code = VideoVectorFactory(video=VideoFactory()).video  # no code vector
    for bad, words in ((pending.pk, "not ready"), (no_code.pk, "no 'code' vector")):
        with pytest.raises(InvalidSearchParameter) as raised:
            _search([planted["A"][0], bad])
        assert raised.value.param == "seeds"
        assert words in raised.value.message


# --------------------------------------------------------------------------- API and page


def test_api_returns_matches_without_the_seeds(client, planted):
    a, c = planted["A"], planted["C"]
    response = client.post(
        URL,
        {"seeds": [a[0], c[0]], "representation": "code", "metric": "cosine", "k": 10},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["method"] == seeds.DEFAULT_METHOD
    assert [v["id"] for v in body["seeds"]] == [a[0], c[0]]
    got = {m["video"]["id"] for m in body["matches"]}
    assert got == set(a[1:]) | set(c[1:])
    assert [m["rank"] for m in body["matches"]] == list(range(1, 11))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"seeds": []}, "seeds"),
        ({"seeds": "x"}, "seeds"),
        ({"seeds": [1, True]}, "seeds"),
        ({"seeds": list(range(1, 12))}, "seeds"),
        ({"seeds": [999999]}, "seeds"),
        ({"seeds": "A0", "exclude": [999999]}, "exclude"),
        ({"seeds": "A0", "exclude": "A0"}, "exclude"),
        ({"seeds": "A0", "k": 0}, "k"),
        ({"seeds": "A0", "representation": "smell"}, "representation"),
        ({"seeds": "A0", "method": "magic"}, "method"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_parameter(client, planted, body, param):
    a0 = planted["A"][0]
    body = {key: ([a0] if value == "A0" else value) for key, value in body.items()}
    body.setdefault("representation", "code")
    before = Search.objects.count()
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"]
    assert Search.objects.count() == before


def test_seeds_page_shows_the_matches_and_a_save_form(client, planted):
    a, c = planted["A"], planted["C"]
    url = reverse("search:seeds") + f"?seeds={a[0]},{c[0]}&representation=code&k=10"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="seed-matches"' in html and 'id="save-playlist"' in html
    for vid in a[1:] + c[1:]:
        assert f'data-video-id="{vid}"' in html
    bad = client.get(reverse("search:seeds") + "?seeds=999999")
    assert bad.status_code == 400
    assert "no video with id 999999" in bad.content.decode()


def test_explore_tray_carries_the_seeds(client, planted):
    a = planted["A"]
    response = client.get(reverse("search:explore") + f"?seeds={a[0]}")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="seed-tray-go"' in html
    assert f"seeds={a[0]}," in html  # the "+ seed" links add to the tray
