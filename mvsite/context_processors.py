from __future__ import annotations

from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    from catalog.selectors import catalog_is_demo

    try:
        demo = catalog_is_demo()
    except Exception:  # the banner must never break a page (e.g. DB briefly down)
        demo = False
    return {"site_name": "mvsim", "demo_catalog": demo}
