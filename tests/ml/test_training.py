"""End-to-end training on a tiny separable data set, artifacts, errors, inference."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from ml.dataset import N_FEATURES, TrainingDataError
from ml.training import held_out_code_precision
from tests.ml import make_sequences

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = {"epochs": 15, "patience": 15, "batch_size": 8, "progress_verbose": 0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small training shared by the tests below (3 genres x 12 videos + 1 empty)."""
    from ml.training import train_composite

    # Weak class signal (0.2 sd per feature): val accuracy climbs from ~chance over the epochs.
    sequences, labels = make_sequences(n_per_class=12, n_classes=3, separation=0.2, seed=0)
    sequences.insert(4, np.zeros((0, N_FEATURES), np.float32))  # not extracted yet
    labels.insert(4, "genre-1")
    epochs_seen: list[int] = []
    out_dir = tmp_path_factory.mktemp("trained")
    result = train_composite(
        sequences,
        labels,
        out_dir=out_dir,
        on_epoch_end=lambda e, logs: epochs_seen.append(e),
        **TINY,
    )
    return {"result": result, "sequences": sequences, "labels": labels, "epochs": epochs_seen}


@pytest.mark.slow  # shares the ~10 s training fixture
def test_training_beats_chance_and_reports_baseline(trained) -> None:
    m = trained["result"].metrics
    assert m["n_train"] + m["n_val"] == 36 and m["n_val"] == 6
    assert m["chance_accuracy"] == pytest.approx(1 / 3)
    assert m["val_accuracy"] >= 5 / 6  # chance is 1/3
    assert 0.0 <= m["baseline_val_accuracy"] <= 1.0
    assert set(m["baseline_per_genre"]) == {"genre-0", "genre-1", "genre-2"}
    assert m["train_seconds"] > 0 and m["epochs_run"] >= 1
    assert m["val_code_precision_at_5"] > 0.8  # chance is 11/35
    result = trained["result"]
    held_out = [trained["labels"][i] for i in result.val_indices]
    assert len(held_out) == 6 and sorted(set(held_out)) == result.labels


@pytest.mark.slow  # shares the ~10 s training fixture
def test_metrics_history_and_report_are_json(trained) -> None:
    result = trained["result"]
    m = result.metrics
    assert result.labels == ["genre-0", "genre-1", "genre-2"]
    assert m["confusion_labels"] == result.labels
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == m["n_val"]
    assert np.trace(cm) / cm.sum() == pytest.approx(m["val_accuracy"])
    assert {"precision", "recall", "f1", "support"} <= set(m["per_genre"]["genre-0"])
    assert sum(g["support"] for g in m["per_genre"].values()) == m["n_val"]
    for key in ("loss", "val_loss", "reconstruction_loss", "val_genre_accuracy"):
        assert len(result.history[key]) == m["epochs_run"]
    json.dumps(result.history)
    report = json.loads(result.report_path.read_text())
    assert report["metrics"]["val_accuracy"] == m["val_accuracy"]
    assert trained["epochs"] == list(range(1, m["epochs_run"] + 1))


@pytest.mark.slow  # shares the ~10 s training fixture
def test_best_epoch_weights_are_the_ones_saved(trained) -> None:
    """The saved model reproduces the best epoch's validation accuracy, not the last one's."""
    from ml.inference import LoadedModel

    result = trained["result"]
    val_acc = result.history["val_genre_accuracy"]
    best = result.metrics["best_epoch"]
    assert val_acc[best - 1] == pytest.approx(max(val_acc))
    # val_accuracy is re-measured after training, so it proves the best weights were restored.
    assert result.metrics["val_accuracy"] == pytest.approx(val_acc[best - 1])
    loaded = LoadedModel.load(result.model_path, result.scaler_path, result.labels_path)
    codes, probs = loaded.encode(trained["sequences"][:4] + trained["sequences"][5:])
    assert codes.shape == (36, 40) and codes.dtype == np.float32 and np.isfinite(codes).all()
    assert probs.shape == (36, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    predictions = loaded.predict_genre(trained["sequences"][:2])
    assert predictions[0].genre in result.labels and 0 < predictions[0].probability <= 1


@pytest.mark.slow  # shares the ~10 s training fixture
def test_saved_codes_are_centred_on_the_training_videos(trained) -> None:
    """Cosine search gets centred codes: the training videos' mean code is zero (it is not,
    without network.centre_code), while the validation videos' codes are just shifted."""
    from ml.inference import LoadedModel

    result = trained["result"]
    loaded = LoadedModel.load(result.model_path, result.scaler_path, result.labels_path)
    held_out = set(result.val_indices) | set(result.skipped)
    train = [s for i, s in enumerate(trained["sequences"]) if i not in held_out]
    codes, _ = loaded.encode(train)
    assert len(codes) == result.metrics["n_train"]
    np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=1e-4)
    assert result.config["centre_code"] is True


@pytest.mark.slow  # shares the ~10 s training fixture
def test_zero_segment_video_is_skipped_and_reported(trained) -> None:
    assert trained["result"].skipped == [4]
    assert trained["result"].metrics["n_skipped"] == 1


@pytest.mark.slow  # shares the ~10 s training fixture
def test_artifacts_and_plots_are_written(trained) -> None:
    result = trained["result"]
    for path in (result.model_path, result.scaler_path, result.labels_path, result.report_path):
        assert path.is_file() and path.stat().st_size > 0
    for path in (result.history_plot_path, result.confusion_plot_path):
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_one_genre_raises_before_writing_anything(tmp_path) -> None:
    from ml.training import train_composite

    sequences, _ = make_sequences(n_per_class=4, n_classes=1)
    out_dir = tmp_path / "out"
    with pytest.raises(TrainingDataError, match="at least 2 genres; found only 'rock'"):
        train_composite(sequences, ["rock"] * 4, out_dir=out_dir)
    assert not out_dir.exists()


def test_genre_with_one_video_is_named_and_nothing_written(tmp_path) -> None:
    from ml.training import train_composite

    sequences, labels = make_sequences(n_per_class=3, n_classes=2)
    sequences.append(sequences[0])
    labels.append("polka")
    out_dir = tmp_path / "out"
    with pytest.raises(TrainingDataError, match=r"'polka' \(1 video\)"):
        train_composite(sequences, labels, out_dir=out_dir)
    assert not out_dir.exists()


def test_genre_left_with_one_video_after_skipping_empty_ones(tmp_path) -> None:
    from ml.training import train_composite

    sequences, labels = make_sequences(n_per_class=2, n_classes=2)
    sequences[0] = np.zeros((0, N_FEATURES))
    with pytest.raises(TrainingDataError, match="'genre-0'"):
        train_composite(sequences, labels, out_dir=tmp_path / "out")


def test_bad_inputs_raise_clear_errors(tmp_path) -> None:
    from ml.training import train_composite

    sequences, labels = make_sequences(n_per_class=2, n_classes=2)
    with pytest.raises(TrainingDataError, match="4 feature sequences but 3 labels"):
        train_composite(sequences, labels[:3], out_dir=tmp_path)
    with pytest.raises(TrainingDataError, match=r"video #2 has feature shape \(5, 7\)"):
        train_composite([*sequences[:2], np.zeros((5, 7)), sequences[3]], labels, out_dir=tmp_path)
    with pytest.raises(TypeError, match="Unknown training option.*learning_rat\\b"):
        train_composite(sequences, labels, out_dir=tmp_path, learning_rat=0.1)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # shares the ~10 s training fixture
def test_load_cached_is_idempotent_across_threads(trained) -> None:
    from ml.inference import clear_cache, load_cached

    result = trained["result"]
    paths = (result.model_path, result.scaler_path, result.labels_path)
    clear_cache()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(load_cached(*paths))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3 and all(g is got[0] for g in got)
    assert load_cached(*paths) is got[0]
    clear_cache()


@pytest.mark.slow  # shares the ~10 s training fixture
def test_inference_errors(trained, tmp_path) -> None:
    from ml.dataset import ArtifactError, save_labels
    from ml.inference import EncodingError, LoadedModel

    result = trained["result"]
    loaded = LoadedModel.load(result.model_path, result.scaler_path, result.labels_path)
    with pytest.raises(EncodingError, match="video #1 has no feature segments"):
        loaded.encode([trained["sequences"][0], np.zeros((0, N_FEATURES))])
    codes, probs = loaded.encode([])
    assert codes.shape == (0, 40) and probs.shape == (0, 3)
    wrong_labels = save_labels(["a", "b"], tmp_path / "labels.json")
    with pytest.raises(ArtifactError, match="predicts 3 genres but .* lists 2"):
        LoadedModel.load(result.model_path, result.scaler_path, wrong_labels)
    with pytest.raises(ArtifactError, match="Model file not found"):
        LoadedModel.load(tmp_path / "nope.keras", result.scaler_path, result.labels_path)


@pytest.mark.slow
def test_same_seed_gives_same_training(tmp_path) -> None:
    from ml.training import train_composite

    sequences, labels = make_sequences(n_per_class=6, n_classes=2, seed=3)
    runs = [
        train_composite(
            sequences,
            labels,
            out_dir=tmp_path / str(i),
            epochs=3,
            batch_size=8,
            progress_verbose=0,
            seed=7,
        )
        for i in range(2)
    ]
    assert runs[0].history == runs[1].history


class _StubModel:
    """Stands in for a Keras model: weights are just the epoch they were taken at."""

    def __init__(self) -> None:
        self.epoch = 0
        self.stop_training = False
        self.restored: list[np.ndarray] | None = None

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(self.epoch)]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.restored = weights


def _run_callback(logs: list[tuple[float, float]], patience: int) -> tuple[_StubModel, int]:
    from ml.training import _best_genre_accuracy_callback

    callback = _best_genre_accuracy_callback(patience)
    model = _StubModel()
    callback.set_model(model)
    ran = 0
    for epoch, (acc, loss) in enumerate(logs):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {"val_genre_accuracy": acc, "val_genre_loss": loss})
        ran += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return model, ran


def test_early_stopping_waits_while_loss_still_falls_and_restores_best() -> None:
    # A lucky early accuracy, then a plateau with falling loss, then real progress.
    logs = [
        (0.3, 2.3),
        (0.2, 2.2),
        (0.2, 2.1),
        (0.2, 2.0),
        (0.6, 1.5),
        (0.9, 1.0),
        (0.9, 0.9),
        (0.8, 1.2),
        (0.8, 1.3),
        (0.7, 1.4),
        (0.95, 2.0),
    ]
    model, ran = _run_callback(logs, patience=3)
    assert ran == 10  # epochs 7-9 improve nothing: stop before the (unseen) last one
    assert int(model.restored[0]) == 6  # 0.9 accuracy, tie broken by the lower loss


def test_early_stopping_restores_best_even_without_stopping() -> None:
    model, ran = _run_callback([(0.5, 1.0), (0.7, 0.9), (0.6, 0.8)], patience=5)
    assert ran == 3 and not model.stop_training
    assert int(model.restored[0]) == 1


def test_held_out_code_precision_by_hand():
    # Genre 0 along +x, genre 1 along +y; video 4 (genre 0) points at genre 1's cluster.
    codes = np.array([[1, 0], [1, 0.1], [0.9, 0], [0, 1], [0.1, 1], [0, 0.9]], float)
    y = np.array([0, 0, 0, 1, 0, 1])
    assert held_out_code_precision(codes, y, np.array([0]), k=2) == 1.0
    assert held_out_code_precision(codes, y, np.array([4]), k=2) == 0.0
    assert held_out_code_precision(codes, y, np.array([0, 4]), k=2) == 0.5
    assert held_out_code_precision(codes, y, np.array([], int)) is None
