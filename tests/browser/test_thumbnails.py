"""Thumbnails in a real headless Chromium: the results page, the video page and explore show
pictures that load (naturalWidth > 0), under the site's Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from catalog.models import VideoSource
from features.services import extract_video_features
from search.materialize import refit_and_materialize_all
from tests.factories import VideoFactory
from tests.mediagen import make_video

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOADED = """(selector) => {
  const images = [...document.querySelectorAll(selector)];
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
}"""


def extracted_catalog(folder: Path) -> list:
    media = Path(settings.MEDIA_ROOT, "videos")
    media.mkdir(parents=True, exist_ok=True)
    videos = []
    for i, source in enumerate(["testsrc2", "color=c=red", "testsrc"]):
        name = f"thumbs-{folder.name}-{i}.mp4"
        make_video(media / name, 12.0 + 5 * i, video=source, tone_hz=300.0 + 200 * i)
        video = VideoFactory(
            title=f"Thumb song {i}", source=VideoSource.LOCAL, media=f"videos/{name}"
        )
        extract_video_features(video.pk)
        videos.append(video)
    refit_and_materialize_all()
    return videos


def test_pages_show_thumbnails_that_load(site, page, tmp_path, settings) -> None:
    settings.MUSIC_EMBEDDINGS = False  # no TensorFlow here
    first, *_ = extracted_catalog(tmp_path)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)

    page.goto(site.url + reverse("search:results", args=[first.pk]))
    img = page.locator("#catalog-matches img.match-thumb").first
    img.scroll_into_view_if_needed()
    page.wait_for_function(LOADED, arg="#catalog-matches img.match-thumb")
    assert img.get_attribute("loading") == "lazy"
    assert img.get_attribute("width") and img.get_attribute("height") and img.get_attribute("alt")

    page.goto(site.url + reverse("search:video", args=[first.pk]))
    page.locator(".segment-list img.segment-thumb").first.scroll_into_view_if_needed()
    page.wait_for_function(LOADED, arg=".segment-list img.segment-thumb, img.poster")
    assert page.locator(".segment-list img.segment-thumb").count() == 1  # 12 s: one segment

    page.goto(site.url + reverse("search:explore"))
    page.wait_for_function(LOADED, arg=".grid img.card-thumb")
    assert page.locator(".grid img.card-thumb").count() == 3
    assert blocked == []
