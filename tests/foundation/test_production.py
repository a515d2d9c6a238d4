"""Production mode (MVSIM_ENV=production): what it requires, what it sets, `check --deploy`,
the security headers and Content-Security-Policy of every mode, and plain, logged 500s.

The subprocess tests run manage.py / Django with the real settings module and a production
environment; the in-process ones use the test settings (DEBUG off, development mode).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.http import HttpRequest
from django.urls import path

from mvsite import env

ROOT = Path(__file__).resolve().parents[2]
ENV_NAMES = (
    "MVSIM_ENV",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "MVSIM_SSL_REDIRECT",
    "MVSIM_PROXY_SSL_HEADER",
    "MVSIM_HSTS_SECONDS",
    "MVSIM_HSTS_INCLUDE_SUBDOMAINS",
    "MVSIM_HSTS_PRELOAD",
)


class Boom(RuntimeError):
    pass


def boom(request: HttpRequest):
    raise Boom("secret detail: the database password is hunter2")


# This module is also the URLconf of the 500 tests: one view that raises.
urlpatterns = [path("boom/", boom)]


def production_env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    environment.update(
        DJANGO_SETTINGS_MODULE="mvsite.settings",
        MVSIM_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),  # 67 random characters
        ALLOWED_HOSTS="example.org",
    )
    environment.update(extra)
    return {k: v for k, v in environment.items() if v is not None}


def run(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- check --deploy -------------------------------------------------------------------------


def test_check_deploy_is_clean_in_production_mode():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
    # Silenced, with the reason in settings.py: the HSTS subdomain/preload opt-ins only.
    assert "(2 silenced)" in result.stdout


def test_check_deploy_turning_the_hsts_opt_ins_on_silences_nothing():
    extra = {"MVSIM_HSTS_INCLUDE_SUBDOMAINS": "1", "MVSIM_HSTS_PRELOAD": "1"}
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(**extra)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_check_deploy_reports_what_production_mode_fixes():
    """The same check in development mode fails: the clean result above is the mode's doing."""
    environment = production_env(MVSIM_ENV="development", DEBUG="0")
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)
    assert result.returncode == 1
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, (check, result.stderr)


# --- what production mode requires and sets -------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set: MVSIM_ENV=production needs one"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set: MVSIM_ENV=production needs"),
        ({"DEBUG": "1"}, "DEBUG=1 is not allowed with MVSIM_ENV=production"),
        ({"MVSIM_ENV": "prod"}, "MVSIM_ENV='prod' must be 'development' or 'production'"),
        ({"MVSIM_PROXY_SSL_HEADER": "X Forwarded"}, "is not a header name"),
        ({"MVSIM_HSTS_SECONDS": "-1"}, "MVSIM_HSTS_SECONDS=-1 must be at least 0"),
    ],
    ids=["no-secret-key", "no-allowed-hosts", "debug-on", "unknown-env", "bad-proxy", "bad-hsts"],
)
def test_production_mode_refuses_a_missing_or_unsafe_setting_in_one_line(extra, message):
    result = run(["manage.py", "check"], production_env(**extra))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"mvsim: bad setting: {lines[0].removeprefix('mvsim: bad setting: ')}"]
    assert message in lines[0], lines


SHOW_SETTINGS = textwrap.dedent(
    """
    import json, django
    django.setup()
    from django.conf import settings as s
    names = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
             "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
             "SECURE_HSTS_PRELOAD", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY",
             "X_FRAME_OPTIONS", "ALLOWED_HOSTS", "SECURE_REDIRECT_EXEMPT"]
    print(json.dumps({name: getattr(s, name) for name in names}))
    """
)


def settings_under(environment: dict[str, str]) -> dict:
    result = run(["-c", SHOW_SETTINGS], environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_mode_settings():
    values = settings_under(production_env())
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "strict-origin-when-cross-origin",
        "X_FRAME_OPTIONS": "DENY",
        "ALLOWED_HOSTS": ["example.org"],
        "SECURE_REDIRECT_EXEMPT": ["^healthz$"],
    }


def test_production_mode_behind_a_proxy_and_its_knobs():
    values = settings_under(
        production_env(
            MVSIM_PROXY_SSL_HEADER="X-Forwarded-Proto",
            MVSIM_SSL_REDIRECT="0",
            MVSIM_HSTS_SECONDS="300",
            ALLOWED_HOSTS="example.org, www.example.org",
        )
    )
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 300
    assert values["ALLOWED_HOSTS"] == ["example.org", "www.example.org"]


def test_development_mode_defaults(monkeypatch, tmp_path):
    """A fresh clone: debug on, local hosts, a generated key, no HTTPS-only settings."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MVSIM_VAR_DIR", str(tmp_path))
    assert env.deployment() == "development"
    assert env.debug(False) is True
    assert env.allowed_hosts(False) == ["127.0.0.1", "localhost", "testserver"]
    assert env.secret_key(False) == (tmp_path / "secret_key").read_text()
    assert env.proxy_ssl_header() is None
    assert env.debug(True) is False  # production's default


# --- headers and Content-Security-Policy (every mode; here the test settings) ---------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/explore/", "/about/", "/evaluation/", "/map/"])
def test_public_pages_send_the_strict_policy_and_security_headers(client, url):
    response = client.get(url)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]  # no nonce asked for: none sent
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'"] and directives["media-src"] == ["'self'"]
    assert directives["frame-src"] == ["https://www.youtube.com"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_our_templates_have_no_inline_script_style_or_handler():
    """What the strict policy would block: checked in the source, the browser test
    (tests/browser/test_csp.py) checks the rendered pages."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if template.parts[-2] == "drf_spectacular":
            continue  # Swagger UI's inline script and style carry the nonce
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", text):
            offenders.append(template.relative_to(ROOT))
    assert not offenders


@pytest.mark.django_db
def test_api_docs_inline_script_and_style_carry_the_nonce_of_the_header(client):
    response = client.get("/api/docs/")
    directives = policy(response)
    nonce = directives["script-src"][-1]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{20,}'", nonce)
    assert directives["style-src"][-1] == nonce
    assert directives["img-src"] == ["'self'", "data:"]  # Swagger UI's icons, this page only
    html = response.content.decode()
    value = nonce.removeprefix("'nonce-").removesuffix("'")
    assert html.count(f'nonce="{value}"') == 2  # the <style> and the <script>
    assert (
        client.get("/api/docs/")["Content-Security-Policy"] != response["Content-Security-Policy"]
    )


@pytest.mark.django_db
def test_admin_and_rq_dashboard_policies_add_only_what_their_templates_need(
    staff_client, redis_conn
):
    admin = policy(staff_client.get("/admin/"))
    assert admin["style-src"] == ["'self'", "'unsafe-inline'"]
    assert admin["script-src"] == ["'self'"]
    dashboard = policy(staff_client.get("/admin/django_rq/dashboard/"))
    assert dashboard["script-src"] == ["'self'", "'unsafe-inline'"]
    assert dashboard["default-src"] == ["'none'"] and dashboard["frame-ancestors"] == ["'none'"]


# --- no debug pages: a 500 is plain and logged ----------------------------------------------


@pytest.mark.urls(__name__)
def test_a_server_error_is_a_plain_page_and_logged(client, settings, caplog):
    settings.DEBUG = False
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Server error</h1>" in html and "was logged" in html
    for leak in ("hunter2", "Boom", "Traceback", "settings", "boom/"):
        assert leak not in html
    assert "Content-Security-Policy" in response  # the error page is under the policy too
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.ERROR and "/boom/" in record.getMessage()
    assert record.exc_info and isinstance(record.exc_info[1], Boom)


SERVER_ERROR_IN_PRODUCTION = textwrap.dedent(
    f"""
    import django
    django.setup()
    from django.conf import settings
    from django.test import Client
    assert settings.DEBUG is False
    settings.ROOT_URLCONF = {__name__!r}
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", headers={{"host": "example.org"}}, secure=True)
    print("STATUS", response.status_code)
    print("BODY", response.content.decode().replace("\\n", " "))
    """
)


def test_a_server_error_in_production_mode_is_plain_and_logged():
    result = run(["-c", SERVER_ERROR_IN_PRODUCTION], production_env())
    assert result.returncode == 0, result.stderr
    assert "STATUS 500" in result.stdout
    body = result.stdout.split("BODY", 1)[1]
    assert "<h1>Server error</h1>" in body and "hunter2" not in body and "Traceback" not in body
    # The root logger's console handler: the request, the exception and its traceback.
    assert "Internal Server Error: /boom/" in result.stderr
    assert "Boom: secret detail" in result.stderr and "Traceback" in result.stderr


def test_healthz_is_exempt_from_the_https_redirect_for_liveness_probes():
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.test import Client
        client = Client(raise_request_exception=False)
        print("HEALTHZ", client.get("/healthz", headers={"host": "example.org"}).status_code)
        print("HOME", client.get("/", headers={"host": "example.org"}).status_code)
        """
    )
    result = run(["-c", script], production_env())
    assert result.returncode == 0, result.stderr
    assert "HOME 301" in result.stdout  # plain HTTP goes to HTTPS
    assert "HEALTHZ 301" not in result.stdout  # 200 or 503: the probe gets an answer
