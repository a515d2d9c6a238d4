"""demo_catalog and bootstrap_demo: generated clips become catalog videos with jobs queued."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import TrackMetadata, Video, VideoSource, VideoStatus
from catalog.selectors import catalog_is_demo
from mvsite.queues import get_queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_catalog_creates_videos_metadata_and_jobs_then_nothing_new(redis_conn, capsys):
    call_command("demo_catalog", "--per-genre", "1", "--duration", "6", "--genres", "Metal,Pop")
    videos = list(Video.objects.order_by("genre__name"))
    assert [v.genre.name for v in videos] == ["Metal", "Pop"]
    assert all(v.source == VideoSource.DEMO and v.media and v.content_sha256 for v in videos)
    assert all(v.status == VideoStatus.EXTRACTING for v in videos)
    assert get_queue("extract").count == 2
    metadata = TrackMetadata.objects.get(video__genre__name="Metal")
    assert metadata.sources["tempo"] == "demo" and 60 <= metadata.tempo <= 200
    assert catalog_is_demo()
    call_command("demo_catalog", "--per-genre", "1", "--duration", "6", "--genres", "Metal,Pop")
    assert Video.objects.count() == 2
    assert "0 created, 2 already present" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--per-genre", "0"], "--per-genre must be between 1 and 50"),
        (["--genres", "Polka"], "Polka"),
        (["--duration", "2"], "--duration"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_demo_catalog_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("demo_catalog", *args)
    assert not Video.objects.exists()


def test_home_page_says_demo_catalog(client, redis_conn):
    call_command("demo_catalog", "--per-genre", "1", "--duration", "6", "--genres", "Jazz")
    assert b"Demo catalog" in client.get("/").content
    Video.objects.create(title="a real one", source=VideoSource.LOCAL)
    assert b"Demo catalog" not in client.get("/").content


def test_bootstrap_demo_queues_training_after_extractions(redis_conn, capsys, monkeypatch):
    monkeypatch.setenv("MVSIM_DEMO_PER_GENRE", "1")
    from catalog import demo_catalog

    real = demo_catalog.create_demo_catalog
    monkeypatch.setattr(
        demo_catalog,
        "create_demo_catalog",
        lambda per_genre, seed: real(per_genre, seed, genres=["Blues", "Rock"], duration=6),
    )
    call_command("bootstrap_demo")
    train = get_queue("train")
    deferred = train.deferred_job_registry.get_job_ids()
    assert len(deferred) == 1, "training must wait for the extraction jobs"
    assert Video.objects.count() == 2
    call_command("bootstrap_demo")
    assert Video.objects.count() == 2
    assert "catalog present" in capsys.readouterr().out
