"""The map in a real headless Chromium: one point per video, a hovered point's card shows its
poster (or a genre-coloured box), a click opens its page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.layout import MapParameters
from evaluation.services import create_map, execute_map
from features import thumbnails
from tests.evaluation import clustered_catalog

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POSTER_SHOWN = """() => {
  const img = document.getElementById("map-card-poster");
  return !img.hidden && img.complete && img.naturalWidth > 0;
}"""


def test_one_point_per_video_and_a_click_opens_it(site, page, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    videos = clustered_catalog(per_genre=4, codes=False)
    execute_map(create_map(MapParameters("both", "cosine")))
    ids = sorted(v.pk for group in videos.values() for v in group)
    pictured, bare = videos["Ambient"][0], videos["Ambient"][1]
    poster = Path(settings.MEDIA_ROOT, thumbnails.poster_name(pictured.pk))
    poster.parent.mkdir(parents=True)
    poster.write_bytes(thumbnails.encode(np.full((144, 256, 3), 90, np.uint8), 256))
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)

    page.goto(f"{site.url}/map/?representation=both")
    points = page.locator("#catalog-map a[data-video-id] circle")
    assert points.count() == len(ids) == 12
    drawn = sorted(
        int(a.get_attribute("data-video-id"))
        for a in page.locator("#catalog-map a[data-video-id]").all()
    )
    assert drawn == ids
    # The edges are hidden until the toggle is ticked.
    edges = page.locator("#catalog-map .edges")
    assert not edges.is_visible()
    page.locator("#show-edges").check()
    assert edges.is_visible()

    # Hovering a point opens its card: the poster loads from the URL derived from its id...
    card = page.locator("#map-card")
    assert not card.is_visible()
    page.locator(f'#catalog-map a[data-video-id="{pictured.pk}"] circle').hover()
    assert card.is_visible() and page.locator("#map-card-title").inner_text() == pictured.title
    assert page.locator("#map-card-genre").inner_text() == "Ambient"
    page.wait_for_function(POSTER_SHOWN)
    assert not page.locator("#map-card-placeholder").is_visible()
    # ... and a video without one gets the box in its point's colour.
    bare_point = page.locator(f'#catalog-map a[data-video-id="{bare.pk}"] circle')
    bare_point.hover()
    assert page.locator("#map-card-title").inner_text() == bare.title
    placeholder = page.locator("#map-card-placeholder")
    placeholder.wait_for(state="visible")
    assert not page.locator("#map-card-poster").is_visible()
    assert placeholder.locator("rect").get_attribute("fill") == bare_point.get_attribute("fill")
    page.mouse.move(0, 0)
    card.wait_for(state="hidden")
    assert not blocked, blocked

    target = videos["Metal"][2]
    page.locator(f'#catalog-map a[data-video-id="{target.pk}"] circle').click()
    page.wait_for_url(f"**/videos/{target.pk}/")
    assert target.title in page.locator("h1").inner_text()
