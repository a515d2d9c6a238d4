"""yt-dlp finds the JavaScript runtime and the challenge scripts YouTube needs, offline: the
`deno` and `yt-dlp-ejs` wheels, configured by catalog.youtube_client (issue 15)."""

from __future__ import annotations

import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog import youtube_client
from catalog.youtube_client import YouTubeClient, javascript_support, js_runtimes


def test_yt_dlp_reports_deno_and_the_challenge_scripts():
    support = javascript_support()
    assert support.runtime.startswith("deno-"), support
    assert support.challenge_scripts.startswith("yt_dlp_ejs-"), support
    assert support.ok


def test_the_runtime_is_the_wheels_binary_and_runs():
    path = Path(js_runtimes()["deno"]["path"])
    assert path.is_file()
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("deno ")


def test_downloads_use_it_and_fetch_no_scripts_at_run_time(tmp_path):
    options = YouTubeClient(tmp_path)._options(log=None)
    assert options["js_runtimes"] == js_runtimes()
    assert options["remote_components"] == []


def test_a_missing_runtime_is_reported(monkeypatch):
    monkeypatch.setattr(
        youtube_client, "js_runtimes", lambda: {"deno": {"path": "/nonexistent/deno"}}
    )
    support = javascript_support()
    assert support.runtime == "" and not support.ok


@pytest.mark.django_db
def test_doctor_reports_every_tool(monkeypatch):
    out = StringIO()
    call_command("doctor", stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert "deno-" in lines["yt-dlp"] and "yt_dlp_ejs-" in lines["yt-dlp"], lines
    assert lines["ffmpeg"].split()[1] == "ok"
    assert lines["musicnn"].split()[1] == "ok"

    monkeypatch.setattr(
        youtube_client, "js_runtimes", lambda: {"deno": {"path": "/nonexistent/deno"}}
    )
    with pytest.raises(CommandError, match="1 problem"):
        call_command("doctor", stdout=StringIO())
