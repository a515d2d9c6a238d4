"""The Content-Security-Policy in a real headless Chromium: every page sends it and none of
them breaks it — no blocked script, style, image, media, frame or request, no page error.

Chromium reports a violation as a console message and as a `securitypolicyviolation` event;
both are collected (the event through an init script, which CSP does not govern).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from catalog.models import VideoSource
from evaluation.layout import MapParameters
from evaluation.services import create_map, create_run, execute_map, execute_run
from tests.browser.test_search_flow import PLAYER_AT, seed_catalog
from tests.evaluation import clustered_catalog
from tests.factories import VideoFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


class CspWatch:
    """Opens pages and collects every CSP violation and page error they cause."""

    def __init__(self, page, base_url: str, known_page_errors: tuple[str, ...] = ()):
        self.page = page
        self.base_url = base_url
        self.known_page_errors = known_page_errors
        self.problems: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _page_error(self, error) -> None:
        if not any(known in str(error) for known in self.known_page_errors):
            self.problems.append(f"{self.page.url}: page error: {error}")

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"{self.page.url}: console: {text}")

    def open(self, path: str, ready: str | None = None) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, (path, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy, (path, policy)
        if ready:
            self.page.wait_for_selector(ready)
        self.settle(path)

    def settle(self, where: str) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(200)  # violation events are dispatched asynchronously
        for line in self.page.evaluate("window.__cspViolations || []"):
            self.problems.append(f"{where}: {line}")
        self.page.evaluate("window.__cspViolations = []")


def _stub_youtube(page) -> None:
    """No network here: YouTube's player frame is answered by a stub, so that only CSP (not a
    failed connection) could stop the frame from loading."""
    page.route(
        re.compile(r"^https://www\.youtube\.com/"),
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>player</p>"),
    )


def test_public_pages_break_no_content_security_policy(site, page, tmp_path):
    catalog = seed_catalog(tmp_path)  # real media files: <video> plays from /media/
    clustered_catalog(per_genre=3, codes=False)
    execute_map(create_map(MapParameters("both", "cosine")))
    execute_run(create_run({"representations": ["both"], "metrics": ["cosine"]}))
    youtube = VideoFactory(title="On YouTube", source=VideoSource.YOUTUBE, youtube_id="dQw4w9WgXcQ")
    _stub_youtube(page)
    watch = CspWatch(page, site.url)

    query = catalog[0]
    watch.open(f"/videos/{query.pk}/results/", ready="#catalog-matches li.match")
    assert page.locator("#catalog-matches svg.contrib-bar rect.contrib-audio").count() > 0
    # Play a matching segment: the <video> loads its media from /media/ (media-src).
    link = page.locator("#catalog-matches a.segment-link").first
    seconds = int(link.get_attribute("data-seek"))
    link.click()
    page.wait_for_function(PLAYER_AT, arg=seconds)
    watch.settle("video page, playing")

    watch.open(f"/videos/{youtube.pk}/", ready="iframe#player")
    frame = page.frame_locator("iframe#player")
    assert frame.locator("text=player").inner_text(timeout=10_000) == "player"
    watch.settle("YouTube video page")

    for path, ready in [
        ("/", "form.search-form"),
        ("/explore/", None),
        ("/about/", None),
        ("/evaluation/", "#latest-run svg"),
        ("/map/?representation=both", "#catalog-map"),
    ]:
        watch.open(path, ready)
    page.locator("#show-edges").check()
    watch.settle("map with edges")

    # Swagger UI: its inline script and style carry the nonce; the schema is fetched and drawn.
    watch.open("/api/docs/", ready=".swagger-ui .opblock")
    page.locator(".swagger-ui .opblock-summary").first.click()
    watch.settle("api docs, an operation opened")

    assert not watch.problems, "\n".join(watch.problems)


def test_admin_and_rq_dashboard_break_no_content_security_policy(site, page, redis_conn):
    video = VideoFactory(title="Admin view", source=VideoSource.LOCAL)
    get_user_model().objects.create_superuser("csp-admin", "a@example.com", "pw-for-csp-tests")
    # django-rq 4.2's queue and worker pages run `$(...).actions()`, a jQuery plugin that
    # Django's admin/js/actions.js no longer defines: it fails with or without a CSP (that the
    # inline script ran at all shows the dashboard's policy allows it).
    watch = CspWatch(page, site.url, known_page_errors=("$(...).actions is not a function",))

    watch.open("/admin/login/", ready="#id_username")
    page.fill("#id_username", "csp-admin")
    page.fill("#id_password", "pw-for-csp-tests")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    watch.settle("admin index after login")

    for path in [
        "/admin/catalog/video/",
        f"/admin/catalog/video/{video.pk}/change/",
        "/admin/catalog/genre/add/",
        "/admin/evaluation/evaluationrun/",
        "/admin/django_rq/dashboard/",
        "/admin/django_rq/dashboard/queues/0/",
        "/admin/django_rq/dashboard/workers/0/",
    ]:
        watch.open(path)

    assert not watch.problems, "\n".join(watch.problems)
