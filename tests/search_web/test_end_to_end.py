"""Offline end to end: real media, the real pipeline in a real RQ worker, the real pages.

A small catalog (3 generated clips) goes through the same pipeline as a query; then a query
is uploaded through the page, and another one comes by URL from a local stand-in media host
(the allowed-host check injected, as only tests can). Runs with committed transactions so the
worker sees exactly what a separate process would.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Genre, Video, VideoSource, VideoStatus
from pipeline import intake, services
from search.forms import SearchParams
from search.models import Search
from tests.mediagen import make_video

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP_SECONDS = 12.0
CATALOG = [  # (title, lavfi video source, tone Hz, genre)
    ("Red hum", "color=c=red", 220.0, "Blues"),
    ("Test pattern", "testsrc2", 880.0, "Pop"),
    ("Blue whistle", "color=c=blue", 1760.0, "Jazz"),
]


@pytest.fixture
def pipeline_ready(settings, tmp_path):
    from catalog.services import ensure_product_genres
    from features.services import ensure_feature_definitions

    ensure_product_genres()  # a transactional test before us may have flushed them
    ensure_feature_definitions()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    Path(settings.MEDIA_ROOT, "videos").mkdir(parents=True)
    return tmp_path


def drain(run_jobs, rounds: int = 8) -> None:
    """Run jobs until no stage is left queued (each stage queues the next on commit)."""
    from mvsite.queues import QUEUE_NAMES, get_queue

    for _ in range(rounds):
        run_jobs()
        if not any(get_queue(name).count for name in QUEUE_NAMES):
            return
    raise AssertionError("jobs kept coming")


def seed_catalog(folder: Path, run_jobs) -> list[Video]:
    videos = []
    for i, (title, source, tone, genre) in enumerate(CATALOG):
        clip = make_video(folder / f"cat{i}.mp4", CLIP_SECONDS, video=source, tone_hz=tone)
        shutil.copy(clip, Path(settings.MEDIA_ROOT, "videos", clip.name))
        video = Video.objects.create(
            title=title,
            source=VideoSource.LOCAL,
            media=f"videos/{clip.name}",
            genre=Genre.objects.get(name=genre),
            duration_seconds=CLIP_SECONDS,
            has_audio=True,
            has_video=True,
        )
        services.start(video)
        videos.append(video)
    drain(run_jobs)
    from search.materialize import refit_and_materialize_all

    refit_and_materialize_all()  # standardise over the whole seeded catalog
    for video in videos:
        video.refresh_from_db()
        assert video.status == VideoStatus.READY, (video.title, video.error)
    return videos


def test_upload_and_url_queries_end_to_end(client, run_jobs, pipeline_ready):
    from tests.fakes.media_server import MediaServer

    catalog = seed_catalog(pipeline_ready, run_jobs)

    # 1. Upload through the search page -> progress page -> worker -> results.
    query_clip = make_video(
        pipeline_ready / "query.mp4", CLIP_SECONDS, video="testsrc2", tone_hz=660
    )
    response = client.post(
        reverse("search:submit"),
        {"file": SimpleUploadedFile("query.mp4", query_clip.read_bytes()), "k": "3"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    query = Video.objects.get(is_query=True, source=VideoSource.UPLOAD)
    assert response["Location"].startswith(reverse("search:progress", args=[query.pk]))
    progress = client.get(response["Location"])
    assert progress.status_code == 200 and b"Extracting" in progress.content

    drain(run_jobs)
    query.refresh_from_db()
    assert query.status == VideoStatus.READY, query.error
    results_url = client.get(response["Location"])["Location"]  # progress -> results
    html = client.get(results_url).content.decode()
    block = html.split('id="catalog-matches"')[1].split("</ol>")[0]
    for video in catalog:
        assert video.title in block
    assert re.search(
        r'class="seek segment-link" href="/videos/\d+/\?t=\d+#player"|'
        r'class="seek segment-link" href="/videos/\d+/#player"',
        block,
    )
    assert "sound " in block and "picture " in block  # the contribution bar

    # 2. A URL on a local stand-in host goes through the download (yt-dlp) path.
    url_clip = make_video(
        pipeline_ready / "url.mp4", CLIP_SECONDS, video="color=c=green", tone_hz=330
    )
    params = SearchParams("both", "cosine", 3, 1.0)
    with MediaServer() as media:
        media.add_file("/watch", url_clip)
        url = media.url("/watch?v=abcdefghijk")
        first, _ = intake.search_by_url(url, params, allowed_hosts={media.netloc})
        assert first.created
        drain(run_jobs)
        downloads = len(media.requests)
        assert downloads >= 1
        first.video.refresh_from_db()
        assert first.video.status == VideoStatus.READY, first.video.error
        assert first.video.media.name

        # 3. The same URL again reuses the stored query: no second download or extraction.
        count = Video.objects.count()
        again, _ = intake.search_by_url(url, params, allowed_hosts={media.netloc})
        assert again.reused and again.video.pk == first.video.pk and again.job_id is None
        drain(run_jobs)
        assert len(media.requests) == downloads
        assert Video.objects.count() == count
    assert Search.objects.count() == 3

    # The URL query's results list both the catalog and the earlier (uploaded) search.
    html = client.get(reverse("search:results", args=[first.video.pk]) + "?k=3").content.decode()
    assert all(v.title in html.split('id="catalog-matches"')[1] for v in catalog)
    assert query.title in html.split('id="query-matches"')[1]
