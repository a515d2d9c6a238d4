"""The map's pictures: the page carries one poster URL pattern (not one URL per point) that
gives exactly the URL the video pages use, its card script runs under the page's CSP nonce, and
the video picked with ?video= shows its poster or a box in its genre's colour."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from evaluation.layout import MapParameters
from evaluation.presenters import PALETTE
from evaluation.services import create_map, execute_map
from features import thumbnails
from search.presenters import poster_url
from tests.evaluation import clustered_catalog
from tests.search_web import isolated_media

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]
__all__ = ["isolated_media"]


def _with_poster(video) -> None:
    path = Path(settings.MEDIA_ROOT, thumbnails.poster_name(video.pk))
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = np.zeros((144, 256, 3), np.uint8)
    picture[:, :128] = (200, 40, 40)
    path.write_bytes(thumbnails.encode(picture, thumbnails.POSTER_WIDTH))


@pytest.fixture
def mapped():
    videos = clustered_catalog(per_genre=2, codes=False)
    catalog_map = execute_map(create_map(MapParameters("both", "cosine")))
    return videos, catalog_map


def test_one_poster_url_pattern_gives_each_points_poster(client, mapped):
    videos, _ = mapped
    with_poster = videos["Metal"][0]
    _with_poster(with_poster)
    response = client.get("/map/?representation=both")
    assert response.status_code == 200
    html = response.content.decode()
    pattern = re.search(r'<figure[^>]* data-poster-url="([^"]+)"', html).group(1)
    assert pattern.count("{id}") == 1
    # The card's URL for a drawn point is the one the video page and results show.
    assert f'data-video-id="{with_poster.pk}"' in html
    assert pattern.replace("{id}", str(with_poster.pk)) == poster_url(with_poster) != ""
    # One URL for the whole page, not one per point (nor a request per point: the card sets
    # its <img> src only when it opens).
    assert html.count(thumbnails.POSTER_NAME) == 1
    assert re.search(r'<img[^>]* id="map-card-poster"[^>]*>', html).group(0).find("src=") == -1


def test_the_card_script_is_our_static_file_and_nothing_is_inline(client, mapped):
    response = client.get("/map/?representation=both")
    html = response.content.decode()
    assert re.search(r'<script src="/static/mvsim/map\.js(\?[^"]*)?"></script>', html)
    # Nothing inline that the strict policy (no nonce on this page) would block.
    assert "'nonce-" not in response["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|<[^>]+\s(style|on\w+)=", html)


def test_the_picked_video_shows_its_poster_or_its_genres_colour(client, mapped):
    videos, catalog_map = mapped
    pictured, bare = videos["Techno"]
    _with_poster(pictured)
    html = client.get(f"/map/?representation=both&video={pictured.pk}").content.decode()
    card = re.search(r'<div class="card map-selected" id="located">.*?</div>', html).group(0)
    assert f'src="{poster_url(pictured)}"' in card and f"Ringed: {pictured.title}." in card

    html = client.get(f"/map/?representation=both&video={bare.pk}").content.decode()
    card = re.search(r'<div class="card map-selected" id="located">.*?</div>', html).group(0)
    colour = PALETTE[catalog_map.display["genres"].index("Techno") % len(PALETTE)]
    assert "<img" not in card and f'fill="{colour}"' in card
