"""parse_youtube_url: table-driven accept/reject cases, including SSRF tricks."""

from __future__ import annotations

import pytest

from catalog.url_safety import YOUTUBE_HOSTS, UnsafeUrl, YouTubeUrl, parse_youtube_url

VID = "dQw4w9WgXcQ"
CANON = f"https://www.youtube.com/watch?v={VID}"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VID}",
        f"http://www.youtube.com/watch?v={VID}",
        f"https://youtube.com/watch?v={VID}&t=42s",
        f"https://youtube.com/watch?feature=share&v={VID}",
        f"https://m.youtube.com/watch?v={VID}",
        f"https://music.youtube.com/watch?v={VID}&list=RDAMVM",
        f"https://youtu.be/{VID}",
        f"https://youtu.be/{VID}?si=abcdef",
        f"https://www.youtube.com/shorts/{VID}",
        f"https://www.youtube.com/embed/{VID}?autoplay=1",
        f"https://www.youtube.com/live/{VID}",
        f"https://www.youtube-nocookie.com/embed/{VID}",
        f"https://youtube-nocookie.com/embed/{VID}",
        f"HTTPS://WWW.YOUTUBE.COM/watch?v={VID}",
        f"https://www.youtube.com:443/watch?v={VID}",
        f"https://www.youtube.com./watch?v={VID}",
        f"https://www.youtube.com/watch?v={VID}#comments",
        f"  https://youtu.be/{VID}  ",
        f"youtube.com/watch?v={VID}",
        f"www.youtube.com/watch?v={VID}",
    ],
)
def test_accepted_forms_become_canonical(url):
    assert parse_youtube_url(url) == YouTubeUrl(CANON, VID)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # Not YouTube, or pretending to be.
        (f"https://evil.com/watch?v={VID}", "evil.com"),
        (f"https://youtube.com.evil.com/watch?v={VID}", "youtube.com.evil.com"),
        (f"https://evilyoutube.com/watch?v={VID}", "evilyoutube.com"),
        (f"https://youtube.com@evil.com/watch?v={VID}", "user name"),
        (f"https://user:pass@youtube.com/watch?v={VID}", "user name"),
        (f"https://evil.com#@youtube.com/watch?v={VID}", "evil.com"),
        (f"https://evil.com?@youtube.com/watch?v={VID}", "evil.com"),
        (f"https://youtube.com%40evil.com/watch?v={VID}", "Only YouTube links"),
        (f"https://youtube.com\\@evil.com/watch?v={VID}", "backslash"),
        (f"https://www.youtube.com/watch?v={VID}\r\nHost: evil", "control"),
        (f"https://www.you\u0074ube.com\u3002evil.com/watch?v={VID}", "non-ASCII"),
        (f"https://www.youtube.com:8080/watch?v={VID}", "port"),
        (f"https://www.youtube.com:99999/watch?v={VID}", "invalid port"),
        # Other schemes.
        ("file:///etc/passwd", "file:"),
        (f"ftp://youtube.com/watch?v={VID}", "ftp:"),
        ("javascript:alert(1)", "javascript:"),
        ("gopher://127.0.0.1:6379/_INFO", "gopher:"),
        (f"//youtube.com/watch?v={VID}", "https://"),
        # Local and private addresses, in every spelling.
        ("http://127.0.0.1/", "127.0.0.1, a loopback"),
        ("http://127.0.0.1:8000/video.mp4", "loopback"),
        ("http://localhost/", "local machines"),
        ("http://localhost:8000/", "local machines"),
        ("http://foo.localhost/", "local machines"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://10.0.0.5/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://8.8.8.8/", "IP addresses"),
        ("http://1.2.3.4.5/", "malformed IP"),
        # Missing or bad ids.
        ("https://www.youtube.com/", "No video id"),
        ("https://www.youtube.com/watch", "No video id"),
        ("https://www.youtube.com/playlist?list=PL123", "No video id"),
        ("https://www.youtube.com/@SomeChannel", "No video id"),
        ("https://youtu.be/", "No video id"),
        (f"https://youtu.be/{VID}/extra", "No video id"),
        ("https://www.youtube.com/watch?v=short", "not valid"),
        (f"https://www.youtube.com/watch?v={VID}x", "not valid"),
        ("https://www.youtube.com/watch?v=dQw4w9WgX%3C", "not valid"),
        ("https://youtu.be/dQw4w9WgX.Q", "not valid"),
        (f"https://www.youtube-nocookie.com/watch?v={VID}", "No video id"),
        # Not parseable at all (urlsplit raises on unbalanced IPv6 brackets).
        ("]", "not a valid link"),
        ("http://[", "not a valid link"),
        ("https://[::1/watch?v=" + VID, "not a valid link"),
        # Sizes and emptiness.
        ("https://www.youtube.com/watch?v=" + VID + "&x=" + "a" * 3000, "too long"),
        ("", "paste a YouTube link"),
        ("   ", "paste a YouTube link"),
    ],
)
def test_rejected_with_clear_message(url, message):
    with pytest.raises(UnsafeUrl) as info:
        parse_youtube_url(url)
    assert message.lower() in str(info.value).lower()


def test_non_string_is_rejected():
    with pytest.raises(UnsafeUrl):
        parse_youtube_url(None)  # type: ignore[arg-type]


def test_default_hosts_are_youtube_only():
    assert all("youtube" in h or h == "youtu.be" for h in YOUTUBE_HOSTS)
    assert not any(":" in h for h in YOUTUBE_HOSTS)


class TestStandInOverride:
    """Tests of the whole flow allow one exact local host:port, by argument only."""

    HOSTS = YOUTUBE_HOSTS | {"127.0.0.1:8765"}

    def test_direct_media_on_allowed_stand_in(self):
        url = "http://127.0.0.1:8765/media/clip.mp4#t=3"
        got = parse_youtube_url(url, allowed_hosts=self.HOSTS, allow_direct_media=True)
        assert got == YouTubeUrl("http://127.0.0.1:8765/media/clip.mp4", None)
        assert not got.is_youtube

    def test_stand_in_with_youtube_form_keeps_its_host(self):
        got = parse_youtube_url(f"http://127.0.0.1:8765/watch?v={VID}", allowed_hosts=self.HOSTS)
        assert got == YouTubeUrl(f"http://127.0.0.1:8765/watch?v={VID}", VID)

    def test_stand_in_still_needs_an_id_without_direct_media_flag(self):
        with pytest.raises(UnsafeUrl, match="No video id"):
            parse_youtube_url("http://127.0.0.1:8765/clip.mp4", allowed_hosts=self.HOSTS)

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8766/clip.mp4",  # another port
            "http://127.0.0.1/clip.mp4",  # no port
            "http://localhost:8765/clip.mp4",  # another spelling of the same machine
            "http://2130706433:8765/clip.mp4",
            "http://[::1]:8765/clip.mp4",
            "http://10.0.0.1:8765/clip.mp4",
        ],
    )
    def test_only_the_exact_host_and_port_is_opened(self, url):
        with pytest.raises(UnsafeUrl):
            parse_youtube_url(url, allowed_hosts=self.HOSTS, allow_direct_media=True)

    def test_youtube_still_canonical_with_override(self):
        got = parse_youtube_url(f"https://youtu.be/{VID}", allowed_hosts=self.HOSTS)
        assert got == YouTubeUrl(CANON, VID)
        assert got.is_youtube

    def test_direct_media_flag_alone_opens_nothing(self):
        with pytest.raises(UnsafeUrl):
            parse_youtube_url("http://127.0.0.1:8765/clip.mp4", allow_direct_media=True)
        with pytest.raises(UnsafeUrl):
            parse_youtube_url("https://cdn.example.com/clip.mp4", allow_direct_media=True)

    def test_without_youtube_in_allowed_hosts_youtube_is_refused(self):
        with pytest.raises(UnsafeUrl):
            parse_youtube_url(f"https://youtu.be/{VID}", allowed_hosts={"127.0.0.1:8765"})
