"""The map in a real headless Chromium: one point per video, a click opens its page."""

from __future__ import annotations

import pytest

from evaluation.layout import MapParameters
from evaluation.services import create_map, execute_map
from tests.evaluation import clustered_catalog

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_one_point_per_video_and_a_click_opens_it(site, page):
    videos = clustered_catalog(per_genre=4, codes=False)
    execute_map(create_map(MapParameters("both", "cosine")))
    ids = sorted(v.pk for group in videos.values() for v in group)

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

    target = videos["Metal"][2]
    page.locator(f'#catalog-map a[data-video-id="{target.pk}"] circle').click()
    page.wait_for_url(f"**/videos/{target.pk}/")
    assert target.title in page.locator("h1").inner_text()
