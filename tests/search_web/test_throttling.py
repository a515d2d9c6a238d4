"""Search submissions are rate-limited per client: POST /api/searches/ and the search pages'
forms share one budget (search/throttling.py), kept in Redis; over it, 429 with Retry-After,
and nothing of the refused submission is stored or queued."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Video
from mvsite import env
from mvsite.queues import get_queue
from search.models import Search
from search.throttling import SearchSubmitThrottle
from tests.factories import VideoFactory
from tests.search_web import isolated_media, media_files
from tests.search_web.test_upload_limits import RECORDING_HANDLER, RecordingLimitHandler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media", "redis_conn")]
__all__ = ["isolated_media"]

RATE = 3


def url(n: int) -> str:
    return f"https://www.youtube.com/watch?v=vid{n:08d}"  # 11-character ids, all different


@pytest.fixture(autouse=True)
def search_rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"search": f"{RATE}/min"},
    }


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand."""
    now = [1_000_000.0]
    monkeypatch.setattr(SearchSubmitThrottle, "timer", lambda self: now[0])
    return now


def api_post(client, n: int, **extra):
    return client.post("/api/searches/", {"url": url(n)}, content_type="application/json", **extra)


def stored() -> tuple[int, int, int]:
    return Video.objects.count(), Search.objects.count(), get_queue("default").count


def test_api_answers_429_with_retry_after_over_the_rate(
    client, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(RATE):
            assert api_post(client, n).status_code == 202
    assert stored() == (RATE, RATE, RATE)

    clock[0] += 20
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refused = api_post(client, 99)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"  # the first submission leaves the minute in 40 s
    assert refused.json() == {
        "detail": "Too many searches from your address (at most 3 searches a minute). "
        "Try again in 40 seconds."
    }
    assert callbacks == [] and stored() == (RATE, RATE, RATE)  # nothing stored or queued

    # Another client has its own budget; a forged X-Forwarded-For does not make a new one.
    assert api_post(client, 100, REMOTE_ADDR="10.1.2.3").status_code == 202
    assert api_post(client, 101, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429

    clock[0] += 41  # the first submissions left the window
    assert api_post(client, 102).status_code == 202


def test_the_history_is_in_redis_shared_by_every_process(client, redis_conn):
    assert caches["default"].__class__.__name__ == "RedisCache"
    api_post(client, 1)
    keys = [key.decode() for key in redis_conn.keys("*throttle_search_*")]
    assert keys == ["mvsim-test:1:throttle_search_127.0.0.1"]


def test_the_pages_share_the_budget_and_show_a_429_page(client, clock):
    for n in range(RATE - 1):
        assert api_post(client, n).status_code == 202
    page = client.post(reverse("search:submit"), {"url": url(50)})
    assert page.status_code == 302  # the last allowed one: on to the progress page
    before = stored()

    refused = client.post(reverse("search:submit"), {"url": url(51)})
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    text = refused.content.decode()
    assert "Too many searches" in text and "at most 3 searches a minute" in text
    assert "<form" not in text  # a page of its own, not the form again
    assert stored() == before


def test_an_upload_over_the_rate_is_refused_before_it_is_read(client, clock, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1
    settings.FILE_UPLOAD_HANDLERS = [RECORDING_HANDLER, *settings.FILE_UPLOAD_HANDLERS[1:]]
    RecordingLimitHandler.instances.clear()
    for n in range(RATE):
        api_post(client, n)
    before = stored()
    upload = SimpleUploadedFile("clip.mp4", b"\0" * 100_000)
    refused = client.post(reverse("search:submit"), {"file": upload})
    assert refused.status_code == 429
    api = client.post("/api/searches/", {"file": SimpleUploadedFile("clip.mp4", b"\0" * 1000)})
    assert api.status_code == 429
    assert stored() == before and media_files() == set()
    assert RecordingLimitHandler.instances == []  # the bodies were never parsed
    assert list((tmp_path / "tmp").iterdir()) == []


def test_more_like_this_counts_too(client, clock):
    video = VideoFactory()
    for n in range(RATE):
        api_post(client, n)
    searches = Search.objects.count()
    response = client.post(reverse("search:more_like_this", args=[video.pk]), {"k": "5"})
    assert response.status_code == 429 and "Retry-After" in response
    assert Search.objects.count() == searches


def test_reads_are_not_limited(client, clock):
    for n in range(RATE):
        api_post(client, n)
    assert api_post(client, 9).status_code == 429
    assert all(client.get("/api/videos/").status_code == 200 for _ in range(RATE + 2))
    assert client.get(reverse("search:home")).status_code == 200


def test_csrf_is_still_checked_on_the_form(clock):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("search:submit"), {"url": url(1)}).status_code == 403
    assert Video.objects.count() == 0


def test_without_a_cache_the_limit_is_not_applied(client, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    for n in range(RATE + 1):
        assert api_post(client, n).status_code == 202
    assert "search rate limit not applied" in caplog.text


def test_no_limit_when_the_rate_is_off(client, settings):
    rates = {"search": None}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert all(api_post(client, n).status_code == 202 for n in range(RATE + 2))
    assert cache.get("throttle_search_127.0.0.1") is None


@pytest.mark.parametrize(
    "raw, rate",
    [("", "30/min"), ("30/min", "30/min"), ("5/s", "5/sec"), ("100/hour", "100/hour"),
     (" 2/Day ", "2/day"), ("off", None), ("0", None)],
)  # fmt: skip
def test_rate_from_the_environment(monkeypatch, raw, rate):
    monkeypatch.setenv("MVSIM_SEARCH_RATE", raw)
    assert env.env_rate("MVSIM_SEARCH_RATE", "30/min") == rate


@pytest.mark.parametrize("raw", ["30", "x/min", "30/fortnight", "-1/min", "0/min", "3.5/s"])
def test_a_bad_rate_is_a_clear_error(monkeypatch, raw):
    monkeypatch.setenv("MVSIM_SEARCH_RATE", raw)
    with pytest.raises(env.ConfigError, match="MVSIM_SEARCH_RATE.*<count>/<period>"):
        env.env_rate("MVSIM_SEARCH_RATE", "30/min")
