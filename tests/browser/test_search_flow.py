"""A user's search in a real headless Chromium: upload -> progress -> results -> play a segment.

The site runs in pytest-django's live server (a thread of this process); the query's RQ jobs
run in this test's thread in a real worker (burst mode) while the browser polls the progress
page. The catalog is seeded directly (media files + segment features + materialised vectors),
the query goes through the real pipeline.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from catalog.models import Video, VideoSource
from features.models import AUDIO_DIM, VISUAL_DIM
from tests.factories import ready_video
from tests.mediagen import make_video

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP_SECONDS = 25.0  # three 10 s segments: 0, 10, 20
CATALOG = [("Red hum", "color=c=red", 220.0), ("Pattern song", "testsrc2", 880.0)]


def seed_catalog(folder: Path) -> list[Video]:
    """Ready catalog videos with real media files and (random) segment features."""
    from search.materialize import refit_and_materialize_all

    media = Path(settings.MEDIA_ROOT, "videos")
    media.mkdir(parents=True, exist_ok=True)
    videos = []
    rng = np.random.default_rng(7)
    for i, (title, source, tone) in enumerate(CATALOG):
        clip = make_video(folder / f"browser-cat-{i}.mp4", CLIP_SECONDS, video=source, tone_hz=tone)
        name = f"{folder.name}-{clip.name}"
        shutil.copy(clip, media / name)
        audio = rng.random((3, AUDIO_DIM)).astype(np.float32)
        visual = rng.random((3, VISUAL_DIM)).astype(np.float32)
        video = ready_video(
            np.hstack([audio, visual]),  # 3 segments, their means as the features
            vectors=False,  # materialised below
            title=title,
            source=VideoSource.LOCAL,
            media=f"videos/{name}",
            duration_seconds=CLIP_SECONDS,
            has_audio=True,
            has_video=True,
        )
        videos.append(video)
    refit_and_materialize_all()
    return videos


def drain(run_jobs) -> None:
    """Run queued jobs until the pipeline has nothing left (each stage queues the next)."""
    from mvsite.queues import QUEUE_NAMES, get_queue

    for _ in range(8):
        run_jobs()
        if not any(get_queue(name).count for name in QUEUE_NAMES):
            return
    raise AssertionError("jobs kept coming")


PLAYER_AT = """(seconds) => {
  const p = document.getElementById("player");
  return !!p && p.readyState >= 1 && Math.abs(p.currentTime - seconds) < 1.5;
}"""


def search_flow(site_url: str, page, tmp_path: Path, process: Callable[[], None]) -> None:
    catalog = seed_catalog(tmp_path)
    query_clip = make_video(tmp_path / "my query.mp4", 21.0, video="testsrc2", tone_hz=660)

    page.goto(site_url + "/")
    page.set_input_files("#id_file", str(query_clip))
    page.click("form.search-form button[type=submit]")
    page.wait_for_url(re.compile(r"/videos/\d+/progress/"))
    assert page.locator("#progress [data-field=stage]").inner_text() in (
        "Pending",
        "Extracting features",
        "Encoding",
        "Ready",
    )

    process()  # the real worker runs the pipeline while the page polls
    page.wait_for_url(re.compile(r"/videos/\d+/results/"), timeout=30_000)
    assert "Most similar catalog videos" in page.content()
    matches = page.locator("#catalog-matches li.match")
    assert matches.count() == len(catalog)

    links = page.locator("#catalog-matches a.segment-link")
    assert links.count() > 0
    starts = [int(links.nth(i).get_attribute("data-seek")) for i in range(links.count())]
    pick = int(np.argmax(starts))
    seconds = starts[pick]
    links.nth(pick).click()
    page.wait_for_url(re.compile(r"/videos/\d+/(\?t=\d+)?#player$"))
    page.wait_for_function(PLAYER_AT, arg=seconds)  # <video src="...#t=N"> starts at N

    # On the video page, a segment link seeks the player in place.
    target = 10 if seconds != 10 else 20
    page.click(f'.segment-list a[data-seek="{target}"]')
    page.wait_for_function(PLAYER_AT, arg=target)


def test_search_by_upload_and_play_a_matching_segment(site, page, run_jobs, tmp_path):
    search_flow(site.url, page, tmp_path, lambda: drain(run_jobs))
