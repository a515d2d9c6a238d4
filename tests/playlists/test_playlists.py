"""Playlists: create, reorder, export, edit with the secret, limits, smooth paths, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from playlists import services
from playlists.models import MAX_ENTRIES, Playlist, PlaylistEntry
from playlists.paths import greedy_path
from search.models import CODE_DIM
from tests.factories import (
    PLAYLIST_SECRET,
    PlaylistEntryFactory,
    PlaylistFactory,
    VideoFactory,
    VideoVectorFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/playlists/"


def _ids(playlist: Playlist) -> list[int]:
    return list(playlist.entries.order_by("position").values_list("video_id", flat=True))


def _create(client, **body):
    return client.post(API, body, content_type="application/json")


def _patch(client, pk, body, secret=PLAYLIST_SECRET):
    headers = {"HTTP_X_PLAYLIST_SECRET": secret} if secret else {}
    return client.patch(f"{API}{pk}/", body, content_type="application/json", **headers)


# --------------------------------------------------------------------------- create, read


def test_create_returns_the_secret_once_and_stores_only_its_hash(client):
    videos = VideoFactory.create_batch(3)
    response = _create(client, name="Road trip", video_ids=[v.pk for v in videos])
    assert response.status_code == 201, response.content
    body = response.json()
    playlist = Playlist.objects.get(pk=body["id"])
    assert _ids(playlist) == [v.pk for v in videos]
    assert body["secret"] and body["secret"] not in playlist.secret_hash
    assert services.secret_matches(playlist, body["secret"])
    assert body["edit_url"].endswith(f"/playlists/{playlist.pk}/?key={body['secret']}")
    again = client.get(f"{API}{playlist.pk}/").json()
    assert "secret" not in again
    assert [e["video_id"] for e in again["entries"]] == [v.pk for v in videos]


def test_empty_playlist_is_allowed(client):
    response = _create(client, name="Nothing yet", video_ids=[])
    assert response.status_code == 201
    assert response.json()["entries"] == []
    m3u = client.get(reverse("playlists:m3u8", args=[response.json()["id"]])).content.decode()
    assert m3u.splitlines()[0] == "#EXTM3U"


def test_a_thousand_entries_are_allowed_and_one_more_is_not(client):
    videos = VideoFactory.create_batch(MAX_ENTRIES + 1)
    ids = [v.pk for v in videos]
    ok = _create(client, name="Long", video_ids=ids[:MAX_ENTRIES])
    assert ok.status_code == 201
    assert PlaylistEntry.objects.filter(playlist_id=ok.json()["id"]).count() == MAX_ENTRIES
    too_many = _create(client, name="Too long", video_ids=ids)
    assert too_many.status_code == 400
    assert "video_ids" in too_many.json()["errors"]
    assert Playlist.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "", "video_ids": []}, "name"),
        ({"name": "x" * 121, "video_ids": []}, "name"),
        ({"video_ids": []}, "name"),
        ({"name": "a", "video_ids": [999999]}, "video_ids"),
        ({"name": "a", "video_ids": ["x"]}, "video_ids"),
        ({"name": "a", "video_ids": "1,2"}, "video_ids"),
        ({"name": "a", "video_ids": "DUP"}, "video_ids"),
        ({"name": "a", "video_ids": "QUERY"}, "video_ids"),
        ({"name": "a", "video_ids": "ONE", "order": {"representation": "smell"}}, "representation"),
        ({"name": "a", "video_ids": "ONE", "order": {"start": 999999}}, "start"),
        ({"name": "a", "seeds": [999999]}, "seeds"),
    ],
)
def test_bad_input_is_a_400_and_nothing_is_stored(client, body, param):
    video = VideoFactory()
    query = VideoFactory(is_query=True)
    special = {"DUP": [video.pk, video.pk], "QUERY": [query.pk], "ONE": [video.pk]}
    body = {k: special.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    response = _create(client, **body)
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"]
    assert Playlist.objects.count() == 0
    assert PlaylistEntry.objects.count() == 0


# --------------------------------------------------------------------------- edit


def test_reorder_with_the_secret(client):
    playlist = PlaylistFactory()
    entries = [PlaylistEntryFactory(playlist=playlist) for _ in range(4)]
    new = [entries[i].video_id for i in (3, 1, 0, 2)]
    response = _patch(client, playlist.pk, {"video_ids": new, "name": "Renamed"})
    assert response.status_code == 200, response.content
    assert [e["video_id"] for e in response.json()["entries"]] == new
    playlist.refresh_from_db()
    assert playlist.name == "Renamed" and _ids(playlist) == new


@pytest.mark.parametrize("secret", [None, "wrong", "FOREIGN"])
def test_edit_without_the_right_secret_is_403(client, secret):
    playlist = PlaylistFactory()
    PlaylistEntryFactory(playlist=playlist)
    if secret == "FOREIGN":
        _, secret = services.create_playlist("another", [])
    before = _ids(playlist)
    assert _patch(client, playlist.pk, {"name": "Hijacked"}, secret).status_code == 403
    headers = {"HTTP_X_PLAYLIST_SECRET": secret} if secret else {}
    assert client.delete(f"{API}{playlist.pk}/", **headers).status_code == 403
    playlist.refresh_from_db()
    assert playlist.name != "Hijacked" and _ids(playlist) == before


def test_unknown_playlist_is_404(client):
    assert client.get(f"{API}999999/").status_code == 404
    assert _patch(client, 999999, {"name": "x"}).status_code == 404
    assert client.get(reverse("playlists:m3u8", args=[999999])).status_code == 404
    assert client.get(reverse("playlists:detail", args=[999999])).status_code == 404


def test_staff_may_edit_and_delete(staff_client):
    playlist = PlaylistFactory()
    response = _patch(staff_client, playlist.pk, {"name": "Curated"}, secret=None)
    assert response.status_code == 200
    assert staff_client.delete(f"{API}{playlist.pk}/").status_code == 204
    assert not Playlist.objects.filter(pk=playlist.pk).exists()


def test_delete_with_the_secret(client):
    playlist = PlaylistFactory()
    PlaylistEntryFactory(playlist=playlist)
    response = client.delete(f"{API}{playlist.pk}/", HTTP_X_PLAYLIST_SECRET=PLAYLIST_SECRET)
    assert response.status_code == 204
    assert not PlaylistEntry.objects.exists()


def test_a_bad_update_changes_nothing(client):
    playlist = PlaylistFactory(name="Keep")
    entry = PlaylistEntryFactory(playlist=playlist)
    response = _patch(client, playlist.pk, {"name": "New", "video_ids": [entry.video_id, 999999]})
    assert response.status_code == 400
    playlist.refresh_from_db()
    assert playlist.name == "Keep" and _ids(playlist) == [entry.video_id]


# --------------------------------------------------------------------------- exports


def test_m3u8_export_parses(client):
    playlist = PlaylistFactory(name="Mix")
    yt = VideoFactory(
        youtube_id="dQw4w9WgXcQ", title="Never, ever", artist="Rick", duration_seconds=213.4
    )
    local = VideoFactory(title="Local", artist="", media="catalog/a b.mp4", duration_seconds=None)
    PlaylistEntryFactory(playlist=playlist, video=yt)
    PlaylistEntryFactory(playlist=playlist, video=local)
    response = client.get(f"{API}{playlist.pk}/export.m3u8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.apple.mpegurl")
    lines = [line for line in response.content.decode().splitlines() if line]
    assert lines[0] == "#EXTM3U"
    body = [line for line in lines[1:] if not line.startswith("#") or line.startswith("#EXTINF")]
    assert len(body) == 4
    for info, url in zip(body[::2], body[1::2], strict=True):
        assert info.startswith("#EXTINF:")
        assert url.startswith(("http://", "https://"))
    assert body[0] == "#EXTINF:213,Rick - Never, ever"
    assert body[1] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert body[2] == "#EXTINF:-1,Local"
    assert body[3] == "http://testserver/media/catalog/a%20b.mp4"


def test_json_export(client):
    playlist = PlaylistFactory(name="Mix")
    entries = [PlaylistEntryFactory(playlist=playlist) for _ in range(3)]
    response = client.get(reverse("playlists:json", args=[playlist.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Mix"
    assert [e["video_id"] for e in body["entries"]] == [e.video_id for e in entries]
    assert [e["position"] for e in body["entries"]] == [0, 1, 2]
    assert all(e["page_url"].startswith("http://testserver/videos/") for e in body["entries"])


# --------------------------------------------------------------------------- smooth paths


def _line(n: int, rng) -> list[int]:
    """n videos on a line in code space (position i at base + i x step), in shuffled order of
    creation; returns their ids in line order."""
    base, step = np.zeros(CODE_DIM), np.zeros(CODE_DIM)
    base[0], step[1] = 1.0, 0.3
    order = rng.permutation(n)
    ids = {}
    for i in order:
        video = VideoFactory()
        VideoVectorFactory(video=video, code=(base + i * step).astype(np.float32))
        ids[int(i)] = video.pk
    return [ids[i] for i in range(n)]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_smooth_path_orders_a_planted_line(metric):
    line = _line(12, np.random.default_rng(5))
    shuffled = list(np.random.default_rng(6).permutation(line))
    playlist, _ = services.create_playlist("line", [int(i) for i in shuffled])
    services.order_smooth(playlist, representation="code", metric=metric, start=line[0])
    assert _ids(playlist) == line
    # Between two chosen videos: from the middle... no: from one end to the other.
    services.order_smooth(
        playlist, representation="code", metric=metric, start=line[-1], end=line[0]
    )
    assert _ids(playlist) == line[::-1]
    playlist.refresh_from_db()
    assert playlist.ordering == "between" and playlist.representation == "code"


def test_smooth_path_through_the_api_keeps_videos_without_vectors_last(client):
    line = _line(6, np.random.default_rng(7))
    bare = VideoFactory()
    body = {
        "name": "Path",
        "video_ids": [bare.pk, *line[::-1]],
        "order": {"representation": "code", "metric": "euclidean", "start": line[0]},
    }
    response = _create(client, **body)
    assert response.status_code == 201, response.content
    assert [e["video_id"] for e in response.json()["entries"]] == [*line, bare.pk]


def test_greedy_path_ends_at_the_end():
    points = np.array([[0.0, 0], [1, 0], [2, 0], [3, 0], [4, 0]])
    assert greedy_path(points, start=2, end=4, metric="euclidean")[-1] == 4
    assert greedy_path(points, start=0, metric="euclidean") == [0, 1, 2, 3, 4]
    assert greedy_path(np.zeros((0, 2))) == []


# --------------------------------------------------------------------------- pages


def test_save_from_a_page_shows_the_edit_link_once(client):
    videos = VideoFactory.create_batch(2)
    response = client.post(
        reverse("playlists:create"),
        {"name": "Saved", "video_ids": f"{videos[0].pk},{videos[1].pk}"},
    )
    assert response.status_code == 302
    playlist = Playlist.objects.get()
    assert response["Location"].startswith(f"/playlists/{playlist.pk}/?key=")
    page = client.get(response["Location"]).content.decode()
    assert 'id="edit-link"' in page and 'id="playlist-edit"' in page
    public = client.get(reverse("playlists:detail", args=[playlist.pk])).content.decode()
    assert 'id="edit-link"' not in public and 'id="playlist-edit"' not in public
    assert 'id="export-m3u8"' in public


def test_page_edit_needs_the_key(client):
    playlist = PlaylistFactory(name="Mine")
    url = reverse("playlists:edit", args=[playlist.pk])
    assert client.post(url, {"action": "rename", "name": "Theirs", "key": "no"}).status_code == 403
    ok = client.post(url, {"action": "rename", "name": "Ours", "key": PLAYLIST_SECRET})
    assert ok.status_code == 302
    playlist.refresh_from_db()
    assert playlist.name == "Ours"


def test_page_save_with_bad_ids_is_a_400(client):
    response = client.post(reverse("playlists:create"), {"name": "x", "video_ids": "999999"})
    assert response.status_code == 400
    assert not Playlist.objects.exists()


def test_save_a_seeds_search_as_a_playlist(client):
    line = _line(6, np.random.default_rng(8))
    response = _create(
        client, name="From seeds", seeds=[line[0], line[1]], representation="code", k=3
    )
    assert response.status_code == 201, response.content
    ids = [e["video_id"] for e in response.json()["entries"]]
    assert ids[:2] == [line[0], line[1]] and len(ids) == 5
