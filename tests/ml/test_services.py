"""Training and encoding through the Django side: commands, jobs, the active model."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from catalog.models import Video, VideoStatus
from ml.models import ModelVersion
from pipeline import catalog_work, services
from pipeline.stages import stage_named
from search.models import VideoVector
from tests.ml import separable_catalog


def _queue_stage(video: Video, status: str) -> None:
    """Put the video at this stage with its job queued, as the previous stage would."""
    with transaction.atomic():
        locked = Video.objects.select_for_update().get(pk=video.pk)
        services.begin(locked, stage_named(status), place="queue")


@pytest.mark.slow
@pytest.mark.django_db
def test_train_command_registers_activates_and_encodes(capsys):
    videos = separable_catalog()
    call_command("train", "--epochs", "25", "--activate", "--val-split", "0.34")
    version = ModelVersion.objects.get()
    assert version.is_active
    assert set(version.genres) == {"Blues", "Metal", "Jazz"}
    assert version.metrics["val_accuracy"] > 0.5  # chance is 1/3
    assert "baseline_val_accuracy" in version.metrics
    assert version.history and len(version.history["loss"]) == version.metrics["epochs_run"]
    for relative in (version.model_path, version.history_plot_path, version.confusion_plot_path):
        assert (Path(settings.MEDIA_ROOT) / relative).stat().st_size > 0
    codes = dict(VideoVector.objects.values_list("video_id", "code"))
    assert set(codes) == {v.pk for v in videos}
    assert all(np.isfinite(np.asarray(c)).all() and len(c) == 40 for c in codes.values())
    predicted = Video.objects.filter(predicted_genre__isnull=False).count()
    assert predicted == len(videos)
    assert "validation accuracy" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("genres", "per_genre", "message"),
    [(("Blues",), 4, "2 genres"), (("Blues", "Metal"), 1, "Blues")],
    ids=["one-genre", "one-video-per-genre"],
)
def test_train_refuses_unusable_sets_and_writes_nothing(genres, per_genre, message):
    separable_catalog(genres, per_genre)
    before = set((Path(settings.MEDIA_ROOT) / "models").glob("*"))
    with pytest.raises(CommandError, match=message):
        call_command("train", "--epochs", "1")
    assert not ModelVersion.objects.exists()
    assert set((Path(settings.MEDIA_ROOT) / "models").glob("*")) == before


@pytest.mark.django_db
def test_train_command_bad_arguments():
    with pytest.raises(CommandError, match="--epochs"):
        call_command("train", "--epochs", "0")
    with pytest.raises(CommandError, match="--val-split"):
        call_command("train", "--val-split", "0.9")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_encode_stage_uses_active_model_and_admin_activation_reencodes(run_jobs, staff_client):
    from ml.services import train_model

    videos = separable_catalog(per_genre=4)
    first = train_model(epochs=3, verbose=0)
    catalog_work.activate_model(first)
    second = train_model(epochs=3, verbose=0, seed=7)
    before = np.asarray(VideoVector.objects.get(video=videos[0]).code)

    # A video reaching the encode stage gets a code from the active model, then is ready.
    _queue_stage(videos[1], VideoStatus.ENCODING)
    run_jobs()
    assert Video.objects.get(pk=videos[1].pk).status == VideoStatus.READY

    response = staff_client.post(
        "/admin/ml/modelversion/",
        {"action": "activate", "_selected_action": [second.pk]},
        follow=True,
    )
    assert b"re-encoding every video" in response.content
    run_jobs()
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)
    after = np.asarray(VideoVector.objects.get(video=videos[0]).code)
    assert not np.allclose(before, after), "codes were not rewritten by the new version"


@pytest.mark.django_db(transaction=True)
def test_encode_stage_without_model_leaves_video_searchable(run_jobs):
    video = separable_catalog(per_genre=2)[0]
    _queue_stage(video, VideoStatus.ENCODING)
    run_jobs()
    video.refresh_from_db()
    assert video.status == VideoStatus.READY and video.predicted_genre is None


def test_model_is_loaded_once_per_process(tmp_path, monkeypatch):
    from ml import inference

    calls = []
    monkeypatch.setattr(
        inference.LoadedModel, "load", classmethod(lambda cls, *a: calls.append(a) or object())
    )
    inference.clear_cache()
    paths = [tmp_path / "m.keras", tmp_path / "s.npz", tmp_path / "l.json"]
    first = inference.load_cached(*paths)
    assert inference.load_cached(*paths) is first
    assert len(calls) == 1
    inference.clear_cache()
