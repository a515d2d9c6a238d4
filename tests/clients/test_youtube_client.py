"""YouTubeClient: real yt-dlp downloads from a local media server (generic extractor).

No internet: every URL is 127.0.0.1, and the test that uses a YouTube URL routes yt-dlp
through a local proxy that records (and refuses) anything that would leave the machine.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from catalog.youtube_client import (
    AgeRestricted,
    DownloadFailed,
    GeoBlocked,
    NetworkError,
    TooLarge,
    TooLong,
    VideoUnavailable,
    YouTubeClient,
    YouTubeError,
    classify_error,
    probe_media,
)
from tests.fakes.media_server import MediaServer
from tests.mediagen import make_video, run_ffmpeg

CLIP_SECONDS = 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "src.mp4", CLIP_SECONDS)


@pytest.fixture
def media():
    with MediaServer() as server:
        yield server


def client_for(tmp_path: Path, **kwargs) -> YouTubeClient:
    kwargs.setdefault("socket_timeout", 5)
    kwargs.setdefault("retries", 0)
    return YouTubeClient(tmp_path / "videos", **kwargs)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_direct_media_through_generic_extractor(tmp_path, media, clip):
    url = media.add_file("/clip.mp4", clip)
    client = client_for(tmp_path)

    result = client.download(url)

    assert result.path == tmp_path / "videos" / "clip.mp4"
    assert result.path.read_bytes() == clip.read_bytes()
    assert result.video_id == "clip"
    assert result.extractor.lower() == "generic"
    assert result.duration == pytest.approx(CLIP_SECONDS, abs=0.2)
    assert (result.width, result.height) == (160, 90)
    assert result.filesize == clip.stat().st_size
    assert result.already_present is False

    # Second time: the file is there, so nothing is downloaded again.
    mtime = result.path.stat().st_mtime_ns
    again = client.download(url)
    assert again.already_present is True
    assert again.path == result.path and again.path.stat().st_mtime_ns == mtime


def test_separate_video_and_audio_are_merged_with_ffmpeg(tmp_path, media, clip):
    # A DASH manifest (video-only + audio-only, like YouTube serves) forces the
    # bv*+ba path, which only works if yt-dlp finds our ffmpeg.
    dash = tmp_path / "dash"
    dash.mkdir()
    run_ffmpeg(
        [
            "-i",
            str(clip),
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-c",
            "copy",
            "-f",
            "dash",
            "-single_file",
            "1",
            "-use_template",
            "0",
            "-use_timeline",
            "0",
            str(dash / "manifest.mpd"),
        ]
    )
    manifest = (dash / "manifest.mpd").read_text()
    # yt-dlp wants plain BaseURL representations (as YouTube's), not ffmpeg's byte-range lists.
    manifest = re.sub(r"<SegmentList.*?</SegmentList>", "", manifest, flags=re.S)
    url = media.add_file("/v/manifest.mpd", manifest.encode(), "application/dash+xml")
    for part in dash.glob("*.mp4"):
        media.add_file(f"/v/{part.name}", part, "video/mp4")

    result = client_for(tmp_path).download(url)

    probed = probe_media(result.path)
    assert probed.has_video and probed.has_audio
    assert (result.width, result.height) == (160, 90)
    assert leftovers(tmp_path / "videos") == [result.path.name]  # no .fNNN parts left


def test_too_large_is_refused_and_leaves_nothing(tmp_path, media, clip):
    url = media.add_file("/big.mp4", clip)
    client = client_for(tmp_path, max_bytes=1000)
    with pytest.raises(TooLarge) as info:
        client.download(url)
    assert info.value.reason == "too_large"
    assert "max-filesize" in str(info.value)
    assert leftovers(tmp_path / "videos") == []


def test_too_long_is_refused_before_any_media_is_fetched(tmp_path, media, clip):
    media.add_file("/long.mp4", clip)
    page = media.add_page(
        "/watch.html",
        (
            '<html><head><script type="application/ld+json">'
            + json.dumps(
                {
                    "@context": "https://schema.org",
                    "@type": "VideoObject",
                    "name": "Ten minutes",
                    "duration": "PT10M",
                    "contentUrl": media.url("/long.mp4"),
                    "uploadDate": "2024-01-01",
                }
            )
            + "</script></head><body></body></html>"
        ),
    )
    # The file itself is only 2 s long: "600 s" can only come from the page's metadata, so
    # the refusal happened before downloading (a post-download check would have passed it).
    client = client_for(tmp_path, max_duration_seconds=300)
    with pytest.raises(TooLong, match="600 s"):
        client.download(page)
    assert leftovers(tmp_path / "videos") == []


def test_too_long_found_only_after_download_is_deleted(tmp_path, media, clip):
    # A direct file has no duration in its metadata: the probe of the file catches it.
    url = media.add_file("/clip.mp4", clip)
    with pytest.raises(TooLong):
        client_for(tmp_path, max_duration_seconds=1).download(url)
    assert leftovers(tmp_path / "videos") == []


def test_missing_video_is_unavailable(tmp_path, media):
    with pytest.raises(VideoUnavailable) as info:
        client_for(tmp_path).download(media.url("/gone.mp4"))
    assert info.value.reason == "unavailable"
    assert "404" in str(info.value)


def test_server_that_never_answers_is_a_network_error(tmp_path):
    with MediaServer(mode="hang") as media:
        started = time.monotonic()
        with pytest.raises(NetworkError) as info:
            client_for(tmp_path, socket_timeout=1).download(media.url("/slow.mp4"))
        elapsed = time.monotonic() - started
    assert info.value.reason == "network"
    assert elapsed < 10


def test_existing_youtube_file_needs_no_network(tmp_path, clip):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(clip, videos / "dQw4w9WgXcQ.mp4")
    # Any request yt-dlp makes goes to this local proxy (and fails): none may be made.
    with MediaServer(mode="404") as proxy:
        client = client_for(tmp_path, extra_options={"proxy": proxy.base_url})
        result = client.download("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        assert proxy.requests == []
    assert result.already_present is True
    assert result.video_id == "dQw4w9WgXcQ"
    assert result.duration == pytest.approx(CLIP_SECONDS, abs=0.2)


def test_find_video_uses_injected_resolver(tmp_path, media):
    seen: list[str] = []

    def resolver(query: str) -> str | None:
        seen.append(query)
        return media.url("/clip.mp4") if "Daft Punk" in query else None

    client = client_for(tmp_path, resolver=resolver)
    assert client.find_video("Daft Punk", "One More Time") == media.url("/clip.mp4")
    assert client.find_video("Nobody", "Nothing") is None
    assert seen == ["Daft Punk - One More Time official video", "Nobody - Nothing official video"]


def test_format_selector_caps_height(tmp_path):
    selector = client_for(tmp_path, max_height=360).format_selector
    assert selector == (
        "bv*[height<=360][ext=mp4]+ba[ext=m4a]/b[height<=360][ext=mp4]/b[height<=360]/b"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate "
            "for some users.",
            AgeRestricted,
        ),
        (
            "ERROR: [youtube] abc: Video unavailable. The uploader has not made this video "
            "available in your country",
            GeoBlocked,
        ),
        (
            "ERROR: [youtube] abc: This video is not available from your location due to geo "
            "restriction",
            GeoBlocked,
        ),
        ("ERROR: [youtube] abc: Video unavailable", VideoUnavailable),
        (
            "ERROR: [youtube] abc: Private video. Sign in if you've been granted access",
            VideoUnavailable,
        ),
        (
            "ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader",
            VideoUnavailable,
        ),
        (
            "ERROR: [youtube] abc: Join this channel to get access to members-only content",
            VideoUnavailable,
        ),
        (
            "ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found",
            VideoUnavailable,
        ),
        ("ERROR: [download] File is larger than max-filesize (9 bytes > 1 bytes)", TooLarge),
        (
            "ERROR: [generic] x: Unable to download webpage: Read timed out. (read timeout=1.0)",
            NetworkError,
        ),
        (
            "ERROR: [youtube] abc: Unable to download API page: <urlopen error [Errno -3] "
            "Temporary failure in name resolution>",
            NetworkError,
        ),
        ("ERROR: Unable to download video data: HTTP Error 503: Service Unavailable", NetworkError),
        ("ERROR: [youtube] abc: Sign in to confirm you’re not a bot", DownloadFailed),
        ("ERROR: Postprocessing: Conversion failed!", DownloadFailed),
        ("", DownloadFailed),
    ],
)
def test_error_mapping_table(message, expected):
    error = classify_error(message)
    assert type(error) is expected
    assert isinstance(error, YouTubeError)
    assert error.reason == expected.reason
    assert not str(error).startswith("ERROR:")


def test_error_reasons_are_distinct():
    classes = [
        VideoUnavailable,
        AgeRestricted,
        GeoBlocked,
        TooLong,
        TooLarge,
        NetworkError,
        DownloadFailed,
    ]
    assert len({cls.reason for cls in classes}) == len(classes)
    assert VideoUnavailable("gone").reason == "unavailable"
    assert YouTubeError("custom", "message").reason == "custom"


def test_partials_are_cleaned_and_finished_files_recognised(tmp_path):
    client = client_for(tmp_path)
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in [
        "abc.mp4.part",
        "abc.f137.mp4",
        "abc.temp.mp4",
        "abc.ytdl",
        "abcd.mp4",
        "abc.webm.part",
    ]:
        (videos / name).write_bytes(b"x")
    assert client._existing_file("abc") is None  # only partials of abc so far
    (videos / "abc.mp4").write_bytes(b"x")
    assert client._existing_file("abc") == videos / "abc.mp4"
    client._remove_partials("abc")
    assert leftovers(videos) == ["abc.mp4", "abcd.mp4"]
