"""demo_catalog and bootstrap_demo: generated clips become catalog videos with jobs queued."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import TrackMetadata, Video, VideoSource, VideoStatus
from catalog.selectors import catalog_is_demo
from mvsite.queues import get_queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_catalog_creates_videos_metadata_and_jobs_then_nothing_new(redis_conn, capsys):
    call_command(
        "demo_catalog", "--per-genre", "1", "--duration", "6", "--genres", "Metal,Pop",
        "--process", "queue",
    )  # fmt: skip
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


def test_bootstrap_demo_queues_training_for_when_the_catalog_is_processed(
    redis_conn, capsys, monkeypatch, run_jobs
):
    monkeypatch.setenv("MVSIM_DEMO_PER_GENRE", "1")
    from catalog import demo_catalog
    from catalog.management.commands import bootstrap_demo

    real = demo_catalog.create_demo_catalog
    monkeypatch.setattr(
        bootstrap_demo,
        "create_demo_catalog",
        lambda per_genre, seed, **kw: real(
            per_genre, seed, genres=["Blues", "Rock"], duration=6, **kw
        ),
    )
    call_command("bootstrap_demo")
    assert Video.objects.count() == 2
    assert set(Video.objects.values_list("status", flat=True)) == {VideoStatus.EXTRACTING}
    train = get_queue("train")
    [job] = train.jobs
    assert job.kwargs["when_settled"] is True
    # While the videos are still being processed, the training job looks again later.
    run_jobs("train")
    assert train.count == 0 and len(train.scheduled_job_registry.get_job_ids()) == 1
    call_command("bootstrap_demo")
    assert Video.objects.count() == 2
    assert "catalog present" in capsys.readouterr().out


def test_demo_catalog_takes_genre_names_like_every_command():
    call_command(
        "demo_catalog", "--per-genre", "1", "--duration", "5", "--genres", "hip_hop,HIP-HOP",
        "--process", "none",
    )  # fmt: skip
    [video] = Video.objects.all()
    assert video.genre.name == "Hip Hop" and video.genre.slug == "hip-hop"
