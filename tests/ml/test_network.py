"""Composite network: structure, masking, masked loss, save -> load identity."""

from __future__ import annotations

import numpy as np
import pytest

from ml.dataset import CODE_DIM, N_FEATURES, SEQUENCE_LENGTH, Scaler, save_labels, to_fixed_length

network = pytest.importorskip("ml.network")  # imports TensorFlow once for this module
keras = network.keras

# Keras' own model.save() under NumPy 2.4 (third-party, harmless).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@pytest.fixture(scope="module")
def model():
    network.seed_everything(0, deterministic=False)
    return network.build_composite(3)


@pytest.fixture(scope="module")
def encoder(model):
    return network.encoder_model(model)


def _encode(encoder, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = encoder.predict_on_batch({"sequence": X, "mask": mask})
    return np.asarray(out["code"])


def _five_segment_video(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(5, N_FEATURES)).astype(np.float32)


def test_outputs_are_named_and_shaped(model, encoder) -> None:
    X = np.random.default_rng(0).normal(size=(2, SEQUENCE_LENGTH, N_FEATURES)).astype("float32")
    mask = np.ones((2, SEQUENCE_LENGTH), bool)
    out = model.predict_on_batch({"sequence": X, "mask": mask})
    assert set(out) == {"reconstruction", "genre"}
    assert out["reconstruction"].shape == (2, SEQUENCE_LENGTH, N_FEATURES)
    assert out["genre"].shape == (2, 3)
    np.testing.assert_allclose(out["genre"].sum(axis=1), 1.0, rtol=1e-5)
    codes = _encode(encoder, X, mask)
    assert codes.shape == (2, CODE_DIM) and np.isfinite(codes).all()


def test_padding_does_not_change_the_code(encoder) -> None:
    """Masking check, two ways.

    1. The 5-segment video padded to 44 gives the same code as the unpadded 5-step input
       (the encoder's time axis is variable-length).
    2. Garbage in the padded rows changes nothing, while the same rows *unmasked* do change
       the code, so this test fails if the mask were ignored.
    """
    video = _five_segment_video()
    padded, mask = to_fixed_length(video)
    code_padded = _encode(encoder, padded[None], mask[None])
    code_short = _encode(encoder, video[None], np.ones((1, 5), bool))
    np.testing.assert_allclose(code_padded, code_short, atol=1e-5)

    garbage = padded.copy()
    garbage[5:] = np.random.default_rng(2).normal(scale=10.0, size=garbage[5:].shape)
    np.testing.assert_allclose(_encode(encoder, garbage[None], mask[None]), code_padded, atol=1e-5)
    unmasked = _encode(encoder, garbage[None], np.ones((1, SEQUENCE_LENGTH), bool))
    assert np.abs(unmasked - code_padded).max() > 1e-2


def test_bidirectional_encoder_also_respects_mask() -> None:
    model = network.build_composite(2, bidirectional=True, dropout=0.1)
    enc = network.encoder_model(model)
    video = _five_segment_video(3)
    padded, mask = to_fixed_length(video)
    padded[5:] = 7.0
    code_padded = _encode(enc, padded[None], mask[None])
    assert code_padded.shape == (1, CODE_DIM)
    np.testing.assert_allclose(
        code_padded, _encode(enc, video[None], np.ones((1, 5), bool)), atol=1e-5
    )


def test_masked_mae_ignores_padded_steps() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2, 6, 4)).astype("float32")
    pred = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    pred_garbage = pred.copy()
    pred_garbage[0, 2:] = 1e3  # errors on padded steps must not count
    loss = np.asarray(network.masked_mae(network.reconstruction_target(y, mask), pred_garbage))
    expected = [np.abs(y[0, :2] - pred[0, :2]).mean(), np.abs(y[1] - pred[1]).mean()]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_invalid_arguments_raise_network_error() -> None:
    with pytest.raises(network.NetworkError, match="at least 2 classes"):
        network.build_composite(1)
    with pytest.raises(network.NetworkError, match="even code_dim"):
        network.build_composite(2, code_dim=41, bidirectional=True)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(network.NetworkError, match="not a composite autoencoder"):
        network.encoder_model(plain)


def test_centre_code_shifts_the_code_and_keeps_the_outputs() -> None:
    network.seed_everything(3, deterministic=False)
    model = network.build_composite(3)
    encoder = network.encoder_model(model)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, SEQUENCE_LENGTH, N_FEATURES)).astype("float32")
    mask = np.ones((4, SEQUENCE_LENGTH), bool)
    before = model.predict_on_batch({"sequence": X, "mask": mask})
    codes = _encode(encoder, X, mask)
    mean = codes.mean(axis=0)
    network.centre_code(model, mean)
    after = model.predict_on_batch({"sequence": X, "mask": mask})
    np.testing.assert_allclose(_encode(encoder, X, mask), codes - mean, atol=1e-6)
    np.testing.assert_allclose(_encode(encoder, X, mask).mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(after["genre"], before["genre"], atol=1e-5)
    np.testing.assert_allclose(after["reconstruction"], before["reconstruction"], atol=1e-4)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(network.NetworkError, match="no centrable code"):
        network.centre_code(plain, mean)


def test_save_load_gives_identical_codes(model, encoder, tmp_path) -> None:
    from ml.inference import LoadedModel

    rng = np.random.default_rng(5)
    sequences = [rng.normal(size=(n, N_FEATURES)).astype("float32") for n in (3, 44, 80)]
    scaler = Scaler(mean=np.zeros(N_FEATURES, np.float32), std=np.ones(N_FEATURES, np.float32))
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    loaded = LoadedModel.load(
        model_path,
        scaler.save(tmp_path / "s.npz"),
        save_labels(["a", "b", "c"], tmp_path / "l.json"),
    )
    codes, probs = loaded.encode(sequences)
    fixed = [to_fixed_length(s) for s in sequences]
    X = np.stack([f[0] for f in fixed])
    mask = np.stack([f[1] for f in fixed])
    # Same batch through the in-memory and the reloaded model: bit-identical.
    np.testing.assert_array_equal(codes, _encode(encoder, X, mask))
    assert codes.dtype == np.float32 and probs.shape == (3, 3)
    # Another batch split only changes float rounding (oneDNN blocks by batch size).
    np.testing.assert_allclose(loaded.encode(sequences, batch_size=2)[0], codes, atol=1e-5)
