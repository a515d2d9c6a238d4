"""The README's command-line flow on a machine with no worker running: import_folder ->
extract -> train -> evaluate. Every video ends ready, nothing is left in the queues, and each
command says what it queued and what it ran."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Video, VideoStatus
from mvsite.queues import QUEUE_NAMES, get_queue
from pipeline.models import StageRun
from tests.mediagen import make_audio, make_video

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_import_extract_train_evaluate_without_a_worker(tmp_path, redis_conn):
    folder = tmp_path / "music"
    for genre, tone in (("blues", 220.0), ("metal", 1760.0)):
        (folder / genre).mkdir(parents=True)
        for i in range(3):
            if i == 2:
                make_audio(folder / genre / f"{genre}-{i}.wav", 6, tone_hz=tone + i * 20)
            else:
                make_video(folder / genre / f"{genre}-{i}.mp4", 6, tone_hz=tone + i * 20)

    out = run("import_folder", str(folder), "--genre-from-subdir")
    assert "6 video(s) wait as pending (no worker is running); nothing queued" in out
    assert not any(get_queue(name).count for name in QUEUE_NAMES)

    out = run("extract", "--pending", "--workers", "2")
    assert "processed here: 6 ready, 0 failed; nothing queued" in out
    assert set(Video.objects.values_list("status", flat=True)) == {VideoStatus.READY}

    out = run("train", "--epochs", "3", "--val-split", "0.34", "--activate")
    assert "active: yes, 6 videos encoded" in out
    assert "epoch 1/3" in out and "\r" not in out  # one line per epoch, no Keras step bars

    report = tmp_path / "report.json"
    out = run("evaluate", "--json", str(report), "--agreement-k", "2")
    assert "stored as evaluation run #" in out
    results = json.loads(report.read_text())["results"]
    queries = {
        (r["representation"], r["metric"]): r["n_queries"] for r in results if not r["boosted"]
    }
    for representation in ("audio", "both", "music"):
        assert queries[(representation, "euclidean")] == 6, queries
    # The learned code is judged on the model's held-out videos only: one per genre here.
    assert queries[("code", "euclidean")] == 2, queries
    assert queries[("visual", "euclidean")] == 4, "the two audio-only videos have no picture"

    assert not any(get_queue(name).count for name in QUEUE_NAMES), "nothing queued for later"
    assert StageRun.objects.filter(place="queue").count() == 0
