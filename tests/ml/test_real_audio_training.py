"""On real music: import the labelled clips, extract, train; the confusion matrix is plotted."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from catalog.models import Video
from ml.models import ModelVersion

REAL_AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real-audio"


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.skipif(not REAL_AUDIO.is_dir(), reason="shared/data/real-audio is not present")
def test_model_trains_on_real_clips_and_plots_confusion_matrix(capsys):
    call_command("import_folder", str(REAL_AUDIO), "--genre-from-subdir")
    assert Video.objects.count() == 54
    call_command("extract", "--pending")
    assert "processed here: 54 ready, 0 failed; nothing queued" in capsys.readouterr().out
    call_command("train", "--epochs", "15", "--val-split", "0.3")
    version = ModelVersion.objects.get()
    assert len(version.genres) == 6
    matrix = version.metrics["confusion_matrix"]
    assert len(matrix) == 6 and sum(map(sum, matrix)) == version.metrics["n_val"]
    plot = Path(settings.MEDIA_ROOT) / version.confusion_plot_path
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Classical vs metal is easy on real audio; whatever the network does, the honest
    # baseline must be well above the 1/6 chance level.
    assert version.metrics["baseline_val_accuracy"] > 0.5
