"""SpotifyClient against the fake Spotify Web API on 127.0.0.1 (no internet, no database)."""

from __future__ import annotations

import time

import pytest

from catalog.spotify_client import (
    AudioFeatures,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyCredentialsMissing,
    SpotifyError,
    SpotifyRateLimited,
    SpotifyTimeout,
    normalise_key,
)
from tests.fakes.spotify_api import FakeSpotifyAPI, fake_episode, fake_track


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(api: FakeSpotifyAPI, **kwargs) -> SpotifyClient:
    kwargs.setdefault("timeout", 5)
    return SpotifyClient.from_settings(
        api.client_id,
        api.client_secret,
        api_prefix=api.api_prefix,
        token_url=api.token_url,
        **kwargs,
    )


@pytest.fixture
def api():
    with FakeSpotifyAPI() as server:
        yield server


def test_search_tracks_features_happy_path(api):
    api.add_playlist(
        "rock",
        "pl1",
        [
            fake_track("t1", "First Song", "Band A", popularity=80),
            None,  # a gap Spotify leaves for an unavailable track
            fake_episode("ep1"),
            fake_track("local1", "My MP3", "Me", is_local=True),
            fake_track("t2", "Second Song", ["Band B", "Guest"], album="LP", popularity=None),
        ],
    )
    api.add_null_search_result("rock")  # Spotify really does send null playlist items
    api.add_playlist("rock", "pl2", [fake_track("t3", "Third", "Band C")])
    client = make_client(api)

    playlists = client.search_playlists("rock", limit=5)
    assert [p.spotify_id for p in playlists] == ["pl1", "pl2"]
    assert playlists[0].total_tracks == 5

    tracks = list(client.playlist_tracks("pl1", limit=10))
    assert [t.spotify_id for t in tracks] == ["t1", "t2"]
    assert tracks[1].artists == ["Band B", "Guest"]
    assert tracks[1].album == "LP"
    assert tracks[1].popularity is None
    assert tracks[0].popularity == 80 and tracks[0].duration_ms == 200_000

    features = client.audio_features(["t1", "t2", "unknown"])
    assert isinstance(features["t1"], AudioFeatures)
    assert features["t1"].tempo == 120.0
    assert features["unknown"] is None
    assert client.audio_features_available is True
    # One token request, bearer on every API call, the Feb 2026 /items endpoint used.
    assert len(api.requests_to("/api/token")) == 1
    assert api.requests_to("/v1/playlists/pl1/items")


def test_search_pages_with_at_most_ten(api):
    for i in range(13):
        api.add_playlist("pop", f"p{i}", [fake_track(f"t{i}", f"Song {i}", "X")])
    client = make_client(api)
    playlists = client.search_playlists("pop", limit=12)
    assert [p.spotify_id for p in playlists] == [f"p{i}" for i in range(12)]
    limits = [r.query["limit"][0] for r in api.requests_to("/v1/search")]
    assert limits == ["10", "2"]


def test_playlist_tracks_follow_next_pages(api):
    api.add_playlist("jazz", "big", [fake_track(f"t{i}", f"S{i}", "A") for i in range(120)])
    client = make_client(api)
    tracks = list(client.playlist_tracks("big", limit=110))
    assert len(tracks) == 110
    assert tracks[-1].spotify_id == "t109"
    assert [r.query["offset"][0] for r in api.requests_to("/v1/playlists/big/")] == [
        "0",
        "50",
        "100",
    ]


def test_top_tracks_skip_duplicates_and_known_ids(api):
    api.add_playlist(
        "indie",
        "pl1",
        [
            fake_track("a1", "Same Song", "Artist"),
            fake_track("a1", "Same Song", "Artist"),  # same id twice
            fake_track("known", "Already Here", "Old Band"),
            fake_track("b1", "Other", "Someone"),
        ],
    )
    api.add_playlist(
        "indie",
        "pl2",
        [
            fake_track("a2", "Same Song (Remastered 2011)", "ARTIST"),  # same song, other id
            fake_track("c1", "Fresh", "New Band"),
            fake_track("d1", "Not Needed", "Late Band"),
        ],
    )
    client = make_client(api)
    got = list(client.top_tracks_for_genre("indie", 3, skip_ids={"known"}))
    assert [t.spotify_id for t in got] == ["a1", "b1", "c1"]
    # Stopped at per_genre: never needed a third page or more.
    assert len(got) == 3


def test_top_tracks_skips_unreadable_playlist(api):
    api.add_playlist("edm", "editorial", [fake_track("x", "X", "Y")], status=404)
    api.add_playlist("edm", "pl2", [fake_track("z1", "Z", "W")])
    client = make_client(api)
    assert [t.spotify_id for t in client.top_tracks_for_genre("edm", 5)] == ["z1"]


def test_normalised_key():
    assert normalise_key(["Beyoncé", "Jay-Z"], "Crazy in Love (feat. Jay-Z)") == (
        normalise_key(["BEYONCE"], "Crazy In Love - 2003 Remaster")
    )
    assert normalise_key(["A"], "Song") != normalise_key(["B"], "Song")


def test_audio_features_403_returns_none_and_asks_once():
    with FakeSpotifyAPI(audio_features_status=403) as api:
        api.add_playlist("rock", "pl1", [fake_track("t1", "S", "A")])
        client = make_client(api)
        ids = [f"id{i}" for i in range(150)]  # two batches
        first = client.audio_features(ids)
        second = client.audio_features(["t1"])
        assert set(first) == set(ids) and all(v is None for v in first.values())
        assert second == {"t1": None}
        assert client.audio_features_available is False
        assert len(api.requests_to("/v1/audio-features")) == 1


def test_audio_features_batched_by_100(api):
    client = make_client(api)
    client.audio_features([f"id{i}" for i in range(250)] + ["id0"])
    sizes = [len(r.query["ids"][0].split(",")) for r in api.requests_to("/v1/audio-features")]
    assert sizes == [100, 100, 50]


def test_429_is_retried_after_injected_sleep():
    with FakeSpotifyAPI(rate_limit_once_on="/v1/search") as api:
        api.add_playlist("rock", "pl1", [fake_track("t1", "S", "A")])
        sleep = SleepRecorder()
        client = make_client(api, sleep=sleep)
        assert [p.spotify_id for p in client.search_playlists("rock", 5)] == ["pl1"]
        assert sleep.calls == [1.0]
        assert len(api.requests_to("/v1/search")) == 2


def test_429_with_too_long_retry_after_gives_up_without_sleeping():
    with FakeSpotifyAPI(rate_limit_once_on="/v1/search", retry_after=3600) as api:
        sleep = SleepRecorder()
        client = make_client(api, sleep=sleep)
        with pytest.raises(SpotifyRateLimited, match="3600"):
            client.search_playlists("rock", 5)
        assert sleep.calls == []


def test_429_retries_are_bounded():
    with FakeSpotifyAPI(rate_limit_once_on="/v1/search") as api:
        sleep = SleepRecorder()
        client = make_client(api, sleep=sleep, max_retries=0)
        with pytest.raises(SpotifyRateLimited, match="after 0 retries"):
            client.search_playlists("rock", 5)


@pytest.mark.parametrize(
    ("client_id", "secret"), [("", "s"), ("id", ""), (None, None), ("  ", "s")]
)
def test_missing_credentials_message_names_both_env_vars(client_id, secret):
    with pytest.raises(SpotifyCredentialsMissing) as info:
        SpotifyClient.from_settings(client_id, secret)
    assert "SPOTIPY_CLIENT_ID" in str(info.value)
    assert "SPOTIPY_CLIENT_SECRET" in str(info.value)


def test_wrong_credentials_become_auth_error(api):
    client = SpotifyClient.from_settings(
        "wrong", "creds", api_prefix=api.api_prefix, token_url=api.token_url, timeout=5
    )
    with pytest.raises(SpotifyAuthError, match="SPOTIPY_CLIENT_ID"):
        client.search_playlists("rock", 5)


def test_other_http_errors_name_status_and_path(api):
    client = make_client(api)
    with pytest.raises(SpotifyError) as info:
        list(client.playlist_tracks("doesNotExist"))
    assert info.value.status == 404
    assert "404" in str(info.value) and "playlists/doesNotExist/items" in str(info.value)


def test_hanging_server_times_out_within_bounds():
    with FakeSpotifyAPI(hang_on="/v1/search") as api:
        client = make_client(api, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(SpotifyTimeout, match="search"):
            client.search_playlists("rock", 5)
        assert time.monotonic() - started < 5
