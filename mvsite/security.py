"""The Content-Security-Policy middleware: django-csp's, plus additions per path prefix.

settings.CONTENT_SECURITY_POLICY is the policy of every page. settings.CSP_PATH_UPDATES adds
sources under a path prefix (the staff-only admin and RQ dashboard, whose templates are not
ours and use inline styles and scripts), so the public pages keep the strict policy.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class CSPMiddleware(BaseCSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        update: dict[str, list] = {k: list(v) for k, v in (parts.update or {}).items()}
        for prefix, additions in getattr(settings, "CSP_PATH_UPDATES", ()):
            if request.path_info.startswith(prefix):
                for directive, sources in additions.items():
                    update.setdefault(directive, []).extend(sources)
        parts.update = update or parts.update
        return parts
