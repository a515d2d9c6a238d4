"""Browser fixtures: Debian's headless Chromium through Playwright, and the live site."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.set_default_timeout(20_000)
            yield tab
        finally:
            browser.close()


@pytest.fixture
def site(live_server, monkeypatch):
    """The live server, with our Range-capable media view answering /media/.

    Django's live server serves MEDIA_URL itself with django.views.static.serve, which has no
    Range support, so a <video> could not seek; let the request reach the site's own view.
    """
    from django.test.testcases import _MediaFilesHandler

    from catalog.services import ensure_product_genres
    from features.services import ensure_feature_definitions

    monkeypatch.setattr(_MediaFilesHandler, "_should_handle", lambda self, path: False)
    # Playwright's sync API keeps an event loop in this thread; our ORM calls here are still
    # plain synchronous code between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ensure_product_genres()  # a transactional test before us may have flushed them
    ensure_feature_definitions()
    return live_server
