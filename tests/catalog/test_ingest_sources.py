"""`ingest --source youtube | csv`, and Spotify's refusals: local stand-ins only.

YouTube's search and playlists are RSS feeds on a local MediaServer (tests/fakes/
youtube_search.py) that yt-dlp lists through its real flat-extraction path; single-result
lookups (`find_video`, the csv source) go through the `YOUTUBE_RESOLVER` mapping. Listed
links are YouTube watch URLs that nothing fetches (no download job is run), except in the
end-to-end test, whose links point at the media server.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog import ingest
from catalog.metadata import analysis_needed
from catalog.models import Genre, TrackMetadata, Video, VideoSource, VideoStatus
from catalog.youtube_client import hit_from_entry, parse_artist_title
from mvsite.queues import get_queue
from tests.factories import VideoFactory
from tests.fakes.media_server import MediaServer
from tests.fakes.spotify_api import FakeSpotifyAPI, fake_track
from tests.fakes.youtube_search import FakeYouTubeSearch, Listed, listed
from tests.mediagen import make_video


class Resolver(dict):
    """Stands in for the single-result search: "<artist> - <title> official video" -> URL."""

    def add(self, artist: str, title: str, url: str) -> None:
        self[f"{artist} - {title} official video"] = url

    def __call__(self, query: str) -> str | None:
        return self.get(query)


@pytest.fixture
def media():
    with MediaServer() as server:
        yield server


@pytest.fixture
def search(media, settings) -> FakeYouTubeSearch:
    fake = FakeYouTubeSearch(media)
    settings.YOUTUBE_SEARCH_RESOLVER = fake
    return fake


@pytest.fixture
def resolver(settings) -> Resolver:
    found = Resolver()
    settings.YOUTUBE_RESOLVER = found
    return found


@pytest.fixture(autouse=True)
def no_spotify(settings):
    settings.SPOTIPY_CLIENT_ID = ""
    settings.SPOTIPY_CLIENT_SECRET = ""


def run_ingest(*args: str) -> str:
    out = StringIO()
    if "--process" not in args:
        args = (*args, "--process", "queue")  # as with a worker running
    call_command("ingest", *args, stdout=out, verbosity=1)
    return out.getvalue()


def summary_row(output: str, genre: str) -> list[str]:
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == genre and len(cells) >= 6:
            return cells
    raise AssertionError(f"no summary row for {genre!r} in:\n{output}")


def download_jobs() -> list:
    return [
        job for job in get_queue("default").jobs if job.meta.get("pipeline_stage") == "downloading"
    ]


def songs() -> set[tuple[str, str, str]]:
    return set(Video.objects.values_list("genre__name", "artist", "title"))


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "uploader", "expected"),
    [
        ("Robert - Crossroad (Official Video)", "", ("Robert", "Crossroad")),
        ("Adele - Hello [Official Music Video] | HD", "x", ("Adele", "Hello")),
        (
            "Queen – Bohemian Rhapsody (Official Video Remastered)",
            "",
            ("Queen", "Bohemian Rhapsody"),
        ),
        ('Daft Punk "Get Lucky" (Official Audio)', "", ("Daft Punk", "Get Lucky")),
        ("Hello (Official Video)", "AdeleVEVO", ("Adele", "Hello")),
        ("Hello", "Adele - Topic", ("Adele", "Hello")),
        ("Band - Song (Live at Reading 1992)", "", ("Band", "Song (Live at Reading 1992)")),
        ("A - Song (feat. C) (Lyric Video)", "", ("A", "Song (feat. C)")),
        ("Untitled jam", "", ("", "Untitled jam")),
    ],
)
def test_artist_and_title_from_the_video_title(title, uploader, expected):
    assert parse_artist_title(title, uploader) == expected


def test_flat_youtube_search_entries_become_hits():
    # The shape yt-dlp's YouTube search gives in flat mode (youtube/_tab.py _extract_video).
    video = {
        "_type": "url",
        "ie_key": "Youtube",
        "id": "abcdefghijk",
        "url": "https://www.youtube.com/watch?v=abcdefghijk",
        "title": "Band - Song (Official Video)",
        "duration": 245,
        "channel": "BandVEVO",
        "uploader": "BandVEVO",
        "live_status": None,
    }
    hit = hit_from_entry(video)
    assert (hit.youtube_id, hit.duration, hit.uploader, hit.is_live) == (
        "abcdefghijk",
        245.0,
        "BandVEVO",
        False,
    )
    live = hit_from_entry(
        {**video, "id": "livelivelive", "duration": None, "live_status": "is_live"}
    )
    assert live.is_live
    refused = ingest.refusal(live, min_seconds=60, max_seconds=900)
    assert refused is not None and refused[0] == "live"
    channel = {"_type": "url", "ie_key": "YoutubeTab", "url": "https://www.youtube.com/@band"}
    assert hit_from_entry(channel) is None and hit_from_entry(None) is None
    shorts = hit_from_entry({**video, "url": "https://www.youtube.com/shorts/abcdefghijk"})
    assert shorts.url == "https://www.youtube.com/watch?v=abcdefghijk"


# --- --source youtube ------------------------------------------------------------------------


@pytest.mark.django_db
def test_youtube_source_adds_parsed_videos_skips_known_and_refused_then_adds_nothing(
    search, redis_conn, django_capture_on_commit_callbacks
):
    VideoFactory(youtube_id="knownvideo1", source=VideoSource.YOUTUBE)
    VideoFactory(artist="Old Band", title="Old Song", source=VideoSource.LOCAL)
    shared = listed("Crossover - Both Ways (Official Video)")  # found under both genres
    search.add(
        "Blues official music video",
        [
            listed("Robert - Crossroad (Official Video)"),
            listed("Known", video_id="knownvideo1"),
            listed("Marathon - Endless (Official Video)", duration=3 * 3600),
            listed("24/7 blues radio", duration=None),  # a live stream lists no duration
            listed("Teaser - Soon", duration=15),
            listed("Old Band - Old Song [HD]"),  # the song is in the catalog already
            listed("Mississippi Blues Jam", duration=300),
            shared,
            listed("Late - Extra (Official Video)"),  # over the quota
        ],
    )
    search.add(
        "Jazz official music video",
        [shared, listed("Trio - Tune (Official Audio)"), listed("Trio - Tune (Lyric Video)")],
    )

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--genres", "blues,jazz", "--per-genre", "3")

    assert "--source youtube" in output and "ingest --source youtube: 2 genre(s)" in output
    blues = summary_row(output, "Blues")
    assert blues[:6] == ["Blues", "0", "8", "3", "2", "3"]
    assert re.fullmatch(r"(?=.*too_long 1)(?=.*no_duration 1)(?=.*too_short 1).*", blues[6])
    assert summary_row(output, "Jazz")[:6] == ["Jazz", "0", "3", "1", "2", "0"]
    assert songs() >= {
        ("Blues", "Robert", "Crossroad"),
        ("Blues", "", "Mississippi Blues Jam"),
        ("Blues", "Crossover", "Both Ways"),
        ("Jazz", "Trio", "Tune"),
    }
    added = Video.objects.filter(genre__isnull=False, source=VideoSource.YOUTUBE)
    assert added.count() == 4
    assert all(v.status == VideoStatus.DOWNLOADING and v.youtube_id for v in added)
    assert len(download_jobs()) == 4
    assert not TrackMetadata.objects.exists()  # nothing marked Spotify; analysis fills it
    assert all(analysis_needed(v) for v in added)
    # yt-dlp was asked for the search (limit: room for refused and known videos).
    assert search.queries == [
        ("Blues official music video", ingest.search_size(3)),
        ("Jazz official music video", ingest.search_size(3)),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        again = run_ingest("--genres", "blues,jazz", "--per-genre", "3")
    assert Video.objects.count() == 6 and len(download_jobs()) == 4
    assert summary_row(again, "Blues")[:4] == ["Blues", "3", "0", "0"]  # quota met: no search
    jazz = summary_row(again, "Jazz")
    assert jazz[:6] == ["Jazz", "1", "3", "0", "3", "0"]  # searched again, all known


@pytest.mark.django_db
def test_youtube_dry_run_lists_and_writes_nothing(search, redis_conn):
    search.add("Rock official music video", [listed("Amps - Loud (Official Video)")])
    genres_before = Genre.objects.count()

    output = run_ingest("--source", "youtube", "--genres", "Rock", "--per-genre", "2", "--dry-run")

    assert "Would add 1 video(s):" in output
    assert re.search(r"\[Rock\] Amps - Loud  <https://www\.youtube\.com/watch\?v=\w+>", output)
    assert "1 would be added" in output and "dry run, nothing written" in output
    assert Video.objects.count() == 0 and Genre.objects.count() == genres_before
    assert all(get_queue(name).count == 0 for name in ("default", "extract"))


@pytest.mark.django_db
def test_playlists_file_replaces_the_search_for_its_genres(
    search, tmp_path, redis_conn, django_capture_on_commit_callbacks
):
    url = search.playlist("reggae", [listed("Dub Crew - Riddim"), listed("Dub Crew - Skank")])
    search.add("Pop official music video", [listed("Idol - Hook")])
    playlists = tmp_path / "playlists.csv"
    playlists.write_text(f"genre,url\nreggae,{url}\n")

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest(
            "--genres", "Reggae,Pop", "--per-genre", "5", "--playlists", str(playlists)
        )

    assert summary_row(output, "Reggae")[:4] == ["Reggae", "0", "2", "2"]
    assert [q for q, _ in search.queries] == ["Pop official music video"]
    assert songs() == {
        ("Reggae", "Dub Crew", "Riddim"),
        ("Reggae", "Dub Crew", "Skank"),
        ("Pop", "Idol", "Hook"),
    }

    playlists.write_text("genre,url\nPolka,https://example.com/p\n")
    with pytest.raises(CommandError, match=r"line 2: Unknown genre 'Polka'"):
        run_ingest("--playlists", str(playlists))


@pytest.mark.django_db
def test_a_failed_listing_is_a_reason_and_the_next_genre_goes_on(
    search, media, settings, redis_conn, django_capture_on_commit_callbacks
):
    search.add("Pop official music video", [listed("Idol - Hook")])
    fake = search

    def resolver(query: str, limit: int) -> str | None:
        return media.url("/gone.rss") if query.startswith("Jazz") else fake(query, limit)

    settings.YOUTUBE_SEARCH_RESOLVER = resolver
    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--genres", "Jazz,Pop", "--per-genre", "2")

    assert summary_row(output, "Jazz")[5:7] == ["1", "search_unavailable 1"]
    assert summary_row(output, "Pop")[:4] == ["Pop", "0", "1", "1"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("ingest-yt") / "clip.mp4", 3)


@pytest.mark.django_db(transaction=True)  # real commits: the jobs are enqueued on commit
def test_youtube_source_hands_videos_to_the_download_stage(search, media, clip, run_jobs):
    link = media.add_file("/blues-clip.mp4", clip)
    search.add("Blues official music video", [Listed("Robert - Crossroad (Official Video)", link)])

    output = run_ingest("--source", "youtube", "--genres", "Blues", "--per-genre", "1")

    assert summary_row(output, "Blues")[:4] == ["Blues", "0", "1", "1"]
    run_jobs("default")  # the download stage only
    video = Video.objects.get()
    assert (video.artist, video.title, video.source_url) == ("Robert", "Crossroad", link)
    assert video.status == VideoStatus.EXTRACTING, video.error
    assert video.media and video.content_sha256
    assert get_queue("extract").count == 1


@pytest.mark.django_db
def test_without_spotify_credentials_the_default_source_is_youtube(search, redis_conn):
    search.add("Blues official music video", [listed("Robert - Crossroad")])
    output = run_ingest("--genres", "Blues", "--dry-run")
    assert "ingest --source youtube:" in output and "[Blues] Robert - Crossroad" in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "vimeo"], r"Unknown --source 'vimeo'"),
        (["--source", "csv"], r"--source csv needs the file"),
        (["--source", "youtube", "x.csv"], r"--source youtube takes no file"),
        (["--source", "csv", "x.csv", "--genres", "Blues"], r"--genres does not go with"),
        (["--query", "official video"], r"--query must contain \{genre\}"),
    ],
)
def test_bad_source_arguments_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run_ingest(*args)


# --- --source csv ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_adds_good_rows_and_reports_bad_ones_by_line(
    tmp_path, resolver, redis_conn, django_capture_on_commit_callbacks
):
    VideoFactory(youtube_id="abcdefghijk", source=VideoSource.YOUTUBE)
    resolver.add("Robert", "Crossroad", "https://www.youtube.com/watch?v=crossroad01")
    resolver.add("Idol", "Hook", "https://youtu.be/idolhook001")
    resolver.add("Rick", "Never", "https://www.youtube.com/watch?v=abcdefghijk")  # stored
    long_title = "x" * 301
    path = tmp_path / "tracks.csv"
    path.write_text(
        "Artist,Title,Genre,notes\n"  # line 1: any case, any order; notes is ignored
        "Robert,Crossroad,blues,a note\n"  # 2
        '"Idol","Hook",hip hop\n'  # 3
        "Nobody,Nowhere,Pop\n"  # 4: no YouTube match
        "Band,Song,Polka\n"  # 5: unknown genre
        ",Untitled,Rock\n"  # 6: empty artist
        f"Band,{long_title},Rock\n"  # 7: too long
        "\n"  # 8: blank, ignored
        "Rick,Never,Pop\n"  # 9: its video is stored already
        "Robert,Crossroad,Blues\n"  # 10: the same song again
        "A,B,Rock,x,extra\n",  # 11: more cells than columns
        encoding="utf-8",
    )

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--source", "csv", str(path))

    assert "Ignored column(s): notes" in output
    assert "Line 5: Unknown genre 'Polka'." in output
    assert "Line 6: empty artist." in output
    assert "Line 7: title longer than 300 characters (301)." in output
    assert "Line 11: 5 cells but the header has 4 columns." in output
    assert "line 4: Nobody - Nowhere: no YouTube match" in output
    assert "4 bad row(s)" in output
    assert summary_row(output, "Blues")[:6] == ["Blues", "0", "2", "1", "1", "0"]
    assert summary_row(output, "Hip Hop")[:4] == ["Hip Hop", "0", "1", "1"]
    assert summary_row(output, "Pop")[:7] == ["Pop", "0", "2", "0", "1", "1", "no_match 1"]
    added = Video.objects.filter(genre__isnull=False).order_by("pk")
    assert [(v.genre.name, v.artist, v.title, v.youtube_id) for v in added] == [
        ("Blues", "Robert", "Crossroad", "crossroad01"),
        ("Hip Hop", "Idol", "Hook", "idolhook001"),
    ]
    assert len(download_jobs()) == 2 and not TrackMetadata.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        again = run_ingest("--source", "csv", str(path))
    assert Video.objects.count() == 3 and len(download_jobs()) == 2
    assert "0 added" in again


@pytest.mark.django_db
def test_csv_dry_run_writes_nothing(tmp_path, resolver, redis_conn):
    resolver.add("Robert", "Crossroad", "https://www.youtube.com/watch?v=crossroad01")
    path = tmp_path / "tracks.csv"
    path.write_text("artist,title,genre\nRobert,Crossroad,Blues\n")

    output = run_ingest("--source", "csv", str(path), "--dry-run")

    assert "[Blues] Robert - Crossroad  <https://www.youtube.com/watch?v=crossroad01>" in output
    assert Video.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"artist,title,genre\nA,B,Blues\nCaf\xe9,Song,Blues\n", r"line 3: not UTF-8 text"),
        (b"A,B,Blues\n", r"the first line must be a header naming the columns"),
        (b"", r"the first line must be a header"),
        (b"artist,title,genre\nA,\x00,Blues\n", r"NUL bytes"),
    ],
)
def test_csv_that_cannot_be_read_adds_nothing(tmp_path, resolver, content, message):
    resolver.add("A", "B", "https://www.youtube.com/watch?v=abababababa")
    path = tmp_path / "tracks.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run_ingest("--source", "csv", str(path))
    assert Video.objects.count() == 0


@pytest.mark.django_db
def test_csv_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match=r"no such file"):
        run_ingest("--source", "csv", str(tmp_path / "nope.csv"))


# --- --source spotify: refusals are messages, not tracebacks ---------------------------------


@pytest.fixture
def spotify_settings(settings, resolver):
    def configure(api: FakeSpotifyAPI) -> FakeSpotifyAPI:
        settings.SPOTIPY_CLIENT_ID = api.client_id
        settings.SPOTIPY_CLIENT_SECRET = api.client_secret
        settings.SPOTIFY_API_PREFIX = api.api_prefix
        settings.SPOTIFY_TOKEN_URL = api.token_url
        settings.SPOTIFY_TIMEOUT_SECONDS = 5
        return api

    return configure


@pytest.mark.django_db
def test_spotify_playlists_403_says_to_use_youtube_or_csv(spotify_settings, redis_conn):
    with FakeSpotifyAPI() as api:
        spotify_settings(api)
        api.add_playlist("Blues", "editorial", [fake_track("t1", "Song", "Band")], status=403)
        output = run_ingest("--genres", "Blues")  # credentials set: spotify is the default

    assert "Spotify gave no new tracks for this genre" in output
    assert "ingest --source youtube" in output and "--source csv FILE" in output
    assert "Traceback" not in output and Video.objects.count() == 0


@pytest.mark.django_db
def test_spotify_search_403_says_to_use_youtube_or_csv(spotify_settings, redis_conn):
    with FakeSpotifyAPI(search_status=403) as api:
        spotify_settings(api)
        output = run_ingest("--source", "spotify", "--genres", "Blues")

    assert summary_row(output, "Blues")[5:7] == ["1", "spotify 1"]
    assert "HTTP 403" in output and "ingest --source youtube" in output


@pytest.mark.django_db
def test_spotify_audio_features_403_is_explained(
    spotify_settings, resolver, redis_conn, django_capture_on_commit_callbacks
):
    with FakeSpotifyAPI(audio_features_status=403) as api:
        spotify_settings(api)
        api.add_playlist("Reggae", "rg", [fake_track("r1", "Riddim", "Dub Crew")])
        resolver.add("Dub Crew", "Riddim", "http://127.0.0.1:9/riddim.mp4")
        with django_capture_on_commit_callbacks(execute=True):
            output = run_ingest("--genres", "Reggae", "--per-genre", "1")

    assert "Spotify refused its audio features (HTTP 403)" in output
    assert "our own audio analysis" in output and "--source youtube" in output
    assert summary_row(output, "Reggae")[:4] == ["Reggae", "0", "1", "1"]


def test_client_lists_a_playlist_flat_up_to_the_limit(media, tmp_path):
    from catalog.youtube_client import YouTubeClient

    fake = FakeYouTubeSearch(media)
    url = fake.playlist(
        "five", [listed(f"Band - Song {i}", video_id=f"song{i}abcdef") for i in range(5)]
    )
    client = YouTubeClient(tmp_path, socket_timeout=5, retries=0)

    hits = client.playlist_videos(url, 2)

    assert [(h.youtube_id, h.title, h.duration) for h in hits] == [
        ("song0abcdef", "Band - Song 0", 200.0),
        ("song1abcdef", "Band - Song 1", 200.0),
    ]
    assert [r.path for r in media.requests] == ["/playlist/five.rss"]  # nothing else fetched
    assert not list(tmp_path.iterdir())  # nothing downloaded
    client.search_resolver = fake
    assert client.search_videos("nothing listed", 3) == []
