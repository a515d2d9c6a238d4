"""The admin and the RQ dashboard are for staff only; the search forms are CSRF-protected.

CSRF is checked with a client that enforces it, as a browser meets it: the token comes from
the rendered form, and the same POST without it is refused with 403 before anything is read
or stored.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Video
from tests.factories import VideoFactory
from tests.mediagen import make_video
from tests.search_web import isolated_media, vector_video

pytestmark = pytest.mark.django_db
__all__ = ["isolated_media"]

ADMIN_PAGES = [
    "/admin/",
    "/admin/catalog/video/",
    "/admin/pipeline/stagerun/",
    "/admin/django_rq/dashboard/",
    "/admin/django_rq/dashboard/queues/0/",
    "/admin/django_rq/dashboard/workers/0/",
]


@pytest.fixture
def member(django_user_model):
    """A logged-in user who is not staff."""
    user = django_user_model.objects.create_user("member", "m@example.com", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_users_are_sent_to_the_admin_login(client, url, redis_conn):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_logged_in_users_who_are_not_staff_are_sent_to_the_admin_login(member, url, redis_conn):
    response = member.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_staff_see_the_admin_and_the_rq_dashboard(staff_client, url, redis_conn):
    assert staff_client.get(url).status_code == 200


def test_rq_statistics_json_needs_staff_or_the_api_token(member, staff_client, redis_conn):
    """django-rq's stats.json has its own check (no RQ_API_TOKEN is configured): 401 unless
    staff."""
    url = "/admin/django_rq/dashboard/stats.json"
    assert Client().get(url).status_code == 401  # anonymous
    assert member.get(url).status_code == 401
    assert staff_client.get(url).status_code == 200


# --- CSRF on the search forms ---------------------------------------------------------------


def form_token(client: Client, url: str) -> str:
    """The csrfmiddlewaretoken of the page's POST form (it also sets the CSRF cookie)."""
    html = client.get(url).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, f"no CSRF token in the form of {url}"
    return found.group(1)


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_url_search_needs_the_csrf_token(csrf_client, redis_conn):
    data = {"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}
    refused = csrf_client.post(reverse("search:submit"), data)
    assert refused.status_code == 403
    assert not Video.objects.exists()  # nothing was stored

    data["csrfmiddlewaretoken"] = form_token(csrf_client, reverse("search:home"))
    accepted = csrf_client.post(reverse("search:submit"), data)
    assert accepted.status_code == 302
    assert "/progress/" in accepted["Location"]
    assert Video.objects.filter(youtube_id="dQw4w9WgXcQ", is_query=True).exists()


def test_upload_search_needs_the_csrf_token(csrf_client, redis_conn, isolated_media, tmp_path):
    clip = make_video(tmp_path / "q.mp4", 2.0, size="64x36")

    with clip.open("rb") as handle:
        refused = csrf_client.post(reverse("search:submit"), {"file": handle})
    assert refused.status_code == 403
    assert not Video.objects.exists()
    assert not any(isolated_media.rglob("*.*"))  # the upload was not stored

    token = form_token(csrf_client, reverse("search:home"))
    with clip.open("rb") as handle:
        accepted = csrf_client.post(
            reverse("search:submit"), {"file": handle, "csrfmiddlewaretoken": token}
        )
    assert accepted.status_code == 302, accepted.content[:500]
    assert Video.objects.filter(is_query=True).count() == 1


def test_catalog_pick_needs_the_csrf_token(csrf_client, redis_conn):
    """ "More like this" on a catalog video's page (the catalog pick)."""
    video = vector_video(1, title="Catalog pick")
    vector_video(2, title="Its neighbour")
    url = reverse("search:more_like_this", args=[video.pk])

    assert csrf_client.post(url, {"k": "5"}).status_code == 403

    token = form_token(csrf_client, reverse("search:video", args=[video.pk]))
    accepted = csrf_client.post(url, {"k": "5", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert f"/videos/{video.pk}/" in accepted["Location"]


def test_the_api_search_endpoint_is_not_open_to_cross_site_session_posts(
    csrf_client, staff_client, redis_conn
):
    """DRF's SessionAuthentication enforces CSRF for a logged-in session; anonymous API
    clients (no cookie a browser would send along) post without a token."""
    video = VideoFactory()
    staff_client.handler.enforce_csrf_checks = True
    response = staff_client.post("/api/searches/", {"video": video.pk})
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()
