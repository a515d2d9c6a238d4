"""`ingest`: fake Spotify API + a query->URL resolver + MediaServer, all on 127.0.0.1."""

from __future__ import annotations

import re
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog import ingest
from catalog.models import Genre, TrackMetadata, Video, VideoSource, VideoStatus
from catalog.services import youtube_client
from catalog.spotify_client import SpotifyClient
from mvsite.queues import get_queue
from tests.factories import VideoFactory
from tests.fakes.media_server import MediaServer
from tests.fakes.spotify_api import FakeSpotifyAPI, fake_track
from tests.mediagen import make_video

FEATURES = TrackMetadata.AUDIO_FEATURE_FIELDS


class Resolver(dict):
    """Stands in for the YouTube search: "<artist> - <title> official video" -> URL."""

    def add(self, artist: str, title: str, url: str) -> None:
        self[f"{artist} - {title} official video"] = url

    def __call__(self, query: str) -> str | None:
        return self.get(query)


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
def use_spotify(settings, resolver):
    """use_spotify(api): point the ingest's settings at this fake API and the resolver."""

    def configure(api: FakeSpotifyAPI) -> FakeSpotifyAPI:
        settings.SPOTIPY_CLIENT_ID = api.client_id
        settings.SPOTIPY_CLIENT_SECRET = api.client_secret
        settings.SPOTIFY_API_PREFIX = api.api_prefix
        settings.SPOTIFY_TOKEN_URL = api.token_url
        settings.SPOTIFY_TIMEOUT_SECONDS = 5
        settings.YOUTUBE_RESOLVER = resolver
        return api

    return configure


@pytest.fixture
def api(use_spotify):
    with FakeSpotifyAPI() as server:
        yield use_spotify(server)


def run_ingest(*args: str) -> str:
    out = StringIO()
    if "--process" not in args and "--report" not in args:
        args = (*args, "--process", "queue")  # as with a worker running
    call_command("ingest", *args, stdout=out, verbosity=1)
    return out.getvalue()


def summary_row(output: str, genre: str) -> list[str]:
    """The summary table's cells for a genre: genre had found queued skipped failed reasons."""
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == genre and len(cells) >= 6:
            return cells
    raise AssertionError(f"no summary row for {genre!r} in:\n{output}")


def download_jobs() -> list:
    return [
        job for job in get_queue("default").jobs if job.meta.get("pipeline_stage") == "downloading"
    ]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ingest-media")
    return make_video(root / "a.mp4", 3, tone_hz=440), make_video(root / "b.mp4", 3, tone_hz=660)


@pytest.mark.django_db(transaction=True)  # real commits: the jobs are enqueued on commit
def test_ingest_end_to_end_then_a_second_run_adds_nothing(api, resolver, clips, run_jobs):
    clip_a, clip_b = clips
    with MediaServer() as media:
        stem = uuid.uuid4().hex  # downloads are named after the URL: keep them per test
        api.add_playlist(
            "Blues",
            "bl1",
            [
                fake_track("t1", "Crossroad", "Robert", album="King", popularity=70),
                fake_track("t2", "Gone Song", "Lost Band"),
                fake_track("t3", "Nowhere", "Nobody"),
            ],
        )
        api.add_playlist(
            "Country",
            "co1",
            [
                fake_track("t4", "Dusty Road", "Cowhand"),
                fake_track("t1", "Crossroad", "Robert"),  # already ingested under Blues
            ],
        )
        resolver.add("Robert", "Crossroad", media.add_file(f"/{stem}-a.mp4", clip_a))
        resolver.add("Lost Band", "Gone Song", media.url(f"/{stem}-gone.mp4"))  # a 404
        resolver.add("Cowhand", "Dusty Road", media.add_file(f"/{stem}-b.mp4", clip_b))
        # "Nobody - Nowhere" has no match.

        output = run_ingest("--genres", "blues, COUNTRY", "--per-genre", "5")

        assert summary_row(output, "Blues")[:7] == ["Blues", "0", "3", "2", "0", "1", "no_match 1"]
        assert summary_row(output, "Country")[:6] == ["Country", "0", "1", "1", "0", "0"]
        assert "Nobody - Nowhere: no YouTube match" in output
        videos = {v.metadata.spotify_id: v for v in Video.objects.select_related("metadata")}
        assert set(videos) == {"t1", "t2", "t4"}
        first = videos["t1"]
        assert (first.title, first.artist, first.genre.name) == ("Crossroad", "Robert", "Blues")
        assert first.source == VideoSource.YOUTUBE and first.youtube_id is None
        assert first.status == VideoStatus.DOWNLOADING and first.job_id
        assert videos["t4"].genre.name == "Country"
        meta = first.metadata
        assert (meta.album, meta.spotify_popularity) == ("King", 70)
        assert meta.spotify_audio_features_available is True
        assert (meta.energy, meta.tempo, meta.loudness) == (0.6, 120.0, -7.0)
        assert meta.sources == {name: "spotify" for name in FEATURES}
        # One download job per video, on the default queue, nothing else yet.
        jobs = download_jobs()
        assert sorted(job.args[0] for job in jobs) == sorted(v.pk for v in videos.values())
        assert get_queue("extract").count == 0

        run_jobs("default")  # downloads only: extraction is the features app's job

        for key in ("t1", "t4"):
            videos[key].refresh_from_db()
            assert videos[key].status == VideoStatus.EXTRACTING, videos[key].error
            assert videos[key].media and videos[key].content_sha256
        gone = Video.objects.get(pk=videos["t2"].pk)
        assert gone.status == VideoStatus.FAILED and "404" in gone.error
        assert get_queue("extract").count == 2

        report = run_ingest("--report")
        assert re.search(r"^extracting\s+2$", report, re.M)
        assert re.search(r"^unavailable\s+1$", report, re.M)

        again = run_ingest("--genres", "Blues,Country", "--per-genre", "5")

    assert Video.objects.count() == 3 and TrackMetadata.objects.count() == 3
    assert get_queue("default").count == 0
    # Blues had 2 (the failed download counts): only the unmatched track was looked at again.
    assert summary_row(again, "Blues")[:7] == ["Blues", "2", "1", "0", "0", "1", "no_match 1"]
    assert summary_row(again, "Country")[:6] == ["Country", "1", "0", "0", "0", "0"]


@pytest.mark.django_db
def test_per_genre_is_a_quota_so_runs_resume(
    api, resolver, redis_conn, django_capture_on_commit_callbacks
):
    api.add_playlist("Jazz", "jz", [fake_track(f"j{i}", f"Tune {i}", "Trio") for i in range(4)])
    for i in range(4):
        resolver.add("Trio", f"Tune {i}", f"http://127.0.0.1:9/jazz-{i}.mp4")

    with django_capture_on_commit_callbacks(execute=True):
        run_ingest("--genres", "Jazz", "--per-genre", "2")
    assert Video.objects.count() == 2 and len(download_jobs()) == 2
    searches = len(api.requests_to("/v1/search"))

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--genres", "Jazz", "--per-genre", "2")
    assert summary_row(output, "Jazz")[:4] == ["Jazz", "2", "0", "0"]
    assert len(api.requests_to("/v1/search")) == searches  # quota met: Spotify not even asked

    with django_capture_on_commit_callbacks(execute=True):
        run_ingest("--genres", "Jazz", "--per-genre", "3")
    assert sorted(TrackMetadata.objects.values_list("spotify_id", flat=True)) == ["j0", "j1", "j2"]
    assert len(download_jobs()) == 3


@pytest.mark.django_db
def test_audio_features_403_records_metadata_as_unavailable(
    use_spotify, resolver, redis_conn, django_capture_on_commit_callbacks
):
    with FakeSpotifyAPI(audio_features_status=403) as api:
        use_spotify(api)
        api.add_playlist("Reggae", "rg", [fake_track("r1", "Riddim", "Dub Crew")])
        resolver.add("Dub Crew", "Riddim", "http://127.0.0.1:9/riddim.mp4")
        with django_capture_on_commit_callbacks(execute=True):
            output = run_ingest("--genres", "Reggae", "--per-genre", "3")

    assert summary_row(output, "Reggae")[:6] == ["Reggae", "0", "1", "1", "0", "0"]
    meta = TrackMetadata.objects.get(spotify_id="r1")
    assert meta.spotify_audio_features_available is False
    assert all(getattr(meta, name) is None for name in FEATURES)
    assert meta.sources == {}  # our audio analysis fills these later, marked "analysis"
    assert meta.video.status == VideoStatus.DOWNLOADING and len(download_jobs()) == 1


@pytest.mark.django_db
def test_rate_limit_waits_for_retry_after(resolver, redis_conn, django_capture_on_commit_callbacks):
    waits: list[float] = []
    with FakeSpotifyAPI(rate_limit_once_on="/v1/search", retry_after=7) as api:
        api.add_playlist("Rock", "rk", [fake_track("k1", "Loud", "Amps")])
        resolver.add("Amps", "Loud", "http://127.0.0.1:9/loud.mp4")
        spotify = SpotifyClient.from_settings(
            api.client_id,
            api.client_secret,
            api_prefix=api.api_prefix,
            token_url=api.token_url,
            timeout=5,
            sleep=waits.append,
        )
        with django_capture_on_commit_callbacks(execute=True):
            [result] = ingest.ingest(
                ["Rock"], 3, spotify=spotify, youtube=youtube_client(resolver=resolver)
            )

    assert waits == [7.0]
    assert len(api.requests_to("/v1/search")) == 2  # the 429, then the retry
    assert (result.found, result.queued, dict(result.failed)) == (1, 1, {})
    assert TrackMetadata.objects.filter(spotify_id="k1").exists()


@pytest.mark.django_db
def test_spotify_error_on_one_genre_does_not_stop_the_run(
    api, resolver, redis_conn, django_capture_on_commit_callbacks
):
    api.add_playlist("Jazz", "broken", [fake_track("x1", "X", "Y")], status=500)
    api.add_playlist("Pop", "pp", [fake_track("p1", "Hook", "Idol")])
    resolver.add("Idol", "Hook", "http://127.0.0.1:9/hook.mp4")

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--genres", "Jazz,Pop", "--per-genre", "2")

    assert summary_row(output, "Jazz")[5:7] == ["1", "spotify 1"]
    assert "HTTP 500" in output
    assert summary_row(output, "Pop")[:4] == ["Pop", "0", "1", "1"]
    assert list(Video.objects.values_list("title", flat=True)) == ["Hook"]


@pytest.mark.django_db
def test_known_youtube_video_is_skipped(
    api, resolver, redis_conn, django_capture_on_commit_callbacks
):
    VideoFactory(youtube_id="dQw4w9WgXcQ", source=VideoSource.YOUTUBE)
    api.add_playlist(
        "Pop",
        "pp",
        [
            fake_track("s1", "Never", "Rick"),
            fake_track("s2", "Fresh", "Band"),
            fake_track("s3", "Fresh (Live)", "Other Band"),
            fake_track("s4", "Elsewhere", "Indie"),
            fake_track("s5", "Elsewhere (Remix)", "Indie Remixer"),
        ],
    )
    resolver.add("Rick", "Never", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    resolver.add("Band", "Fresh", "https://youtu.be/abcdefghijk")
    resolver.add("Other Band", "Fresh (Live)", "https://www.youtube.com/watch?v=abcdefghijk&t=5")
    # Not YouTube: no id, so the URL itself identifies the video.
    resolver.add("Indie", "Elsewhere", "http://127.0.0.1:9/elsewhere.mp4")
    resolver.add("Indie Remixer", "Elsewhere (Remix)", "http://127.0.0.1:9/elsewhere.mp4")

    with django_capture_on_commit_callbacks(execute=True):
        output = run_ingest("--genres", "Pop", "--per-genre", "5")

    assert summary_row(output, "Pop")[:6] == ["Pop", "0", "5", "2", "3", "0"]
    added = Video.objects.get(metadata__spotify_id="s2")
    assert added.youtube_id == "abcdefghijk"
    assert Video.objects.filter(youtube_id="dQw4w9WgXcQ").count() == 1
    assert Video.objects.filter(source_url="http://127.0.0.1:9/elsewhere.mp4").count() == 1
    assert len(download_jobs()) == 2  # never run: one would try to reach YouTube


@pytest.mark.django_db
def test_dry_run_lists_and_writes_nothing(api, resolver, redis_conn):
    api.add_playlist("Hip Hop", "hh", [fake_track("h1", "Flow", "MC"), fake_track("h2", "X", "Y")])
    api.add_playlist(
        "House", "ho", [fake_track("h1", "Flow", "MC"), fake_track("h3", "Beat", "DJ")]
    )
    resolver.add("MC", "Flow", "http://127.0.0.1:9/flow.mp4")
    resolver.add("DJ", "Beat", "http://127.0.0.1:9/beat.mp4")
    genres_before = Genre.objects.count()

    output = run_ingest("--genres", "hip hop,house", "--per-genre", "5", "--dry-run")

    assert "Would add 2 video(s):" in output
    assert "[Hip Hop] MC - Flow  <http://127.0.0.1:9/flow.mp4>" in output
    assert "[House] DJ - Beat" in output
    assert summary_row(output, "Hip Hop")[:7] == ["Hip Hop", "0", "2", "1", "0", "1", "no_match 1"]
    assert summary_row(output, "House")[:4] == ["House", "0", "1", "1"]  # h1 listed once
    assert Video.objects.count() == 0 and TrackMetadata.objects.count() == 0
    assert Genre.objects.count() == genres_before
    assert all(get_queue(name).count == 0 for name in ("default", "extract"))
    assert not api.requests_to("/v1/audio-features")


@pytest.mark.django_db
def test_report_counts_statuses_and_failure_reasons():
    VideoFactory.create_batch(2, status=VideoStatus.READY)
    VideoFactory(status=VideoStatus.FAILED, error="https://x/y: HTTP Error 404: Not Found")
    VideoFactory(status=VideoStatus.FAILED, error="Sign in to confirm your age")
    VideoFactory(status=VideoStatus.FAILED, error="Same file as video 1 (A - B); not added twice.")
    VideoFactory(
        status=VideoStatus.FAILED, error="https://x: 2000 s is longer than the 900 s limit"
    )
    VideoFactory(status=VideoStatus.FAILED, media="videos/x.mp4", error="extracting failed: boom")
    VideoFactory(status=VideoStatus.FAILED, is_query=True, error="not counted: a user's query")

    report = run_ingest("--report")

    for line in (
        r"ready\s+2",
        r"failed\s+5",
        r"pending\s+0",
        r"unavailable\s+1",
        r"age_restricted\s+1",
        r"duplicate\s+1",
        r"too_long\s+1",
        r"processing\s+1",
    ):
        assert re.search(rf"^{line}$", report, re.M), f"{line!r} not in:\n{report}"


@pytest.mark.django_db
def test_missing_credentials_name_both_variables(settings):
    """Only when Spotify is asked for: without credentials the default source is youtube."""
    settings.SPOTIPY_CLIENT_ID = ""
    settings.SPOTIPY_CLIENT_SECRET = None
    with pytest.raises(CommandError) as info:
        run_ingest("--source", "spotify", "--genres", "Blues")
    assert "SPOTIPY_CLIENT_ID" in str(info.value) and "SPOTIPY_CLIENT_SECRET" in str(info.value)
    assert "--source youtube" in str(info.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--genres", "Blues,Polka"], r"Unknown genre 'Polka'\. Known genres: .*Blues, Country"),
        (["--genres", " , "], r"No genre given\. Known genres: Blues"),
        (["--per-genre", "0"], r"--per-genre must be between 1 and 1000, not 0"),
    ],
)
def test_bad_arguments_are_clear_errors(api, args, message):
    with pytest.raises(CommandError, match=message):
        run_ingest(*args)
    assert not api.requests  # refused before asking Spotify anything
