"""features/musicnn.py: the TF2 port of the pretrained MusiCNN models.

The reference fixture ``fixtures/musicnn_reference.npz`` holds the outputs of the ORIGINAL
musicnn graph (TF1 layers in a session, librosa mel) on the two NumPy test signals of
``fixtures/make_musicnn_reference.py``; see that file for how it was made. Each checkpoint is
loaded once for the whole module.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from features import musicnn
from features.musicnn import (
    DATA_FILE,
    INDEX_FILE,
    MUSICNN_DIM,
    N_MELS,
    N_TAGS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    MusicnnCheckpointError,
    MusicnnModel,
    get_model,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).with_name("fixtures")
REFERENCE = FIXTURES / "musicnn_reference.npz"
MODELS = {"MSD_musicnn": "msd", "MTT_musicnn": "mtt"}

# Tolerances against the original graph. The port's measured maximum errors (TF 2.21 CPU,
# oneDNN on) are about 5e-7 absolute on log-mel values up to 6.1, 2.4e-6 absolute on the
# embeddings (|values| 0.002 .. ~10; 1.7e-4 relative on the smallest) and 3.3e-7 absolute on
# the tag probabilities; docs/musicnn.md lists them.
MEL_TOL = {"rtol": 1e-6, "atol": 5e-6}
EMB_TOL = {"rtol": 1e-4, "atol": 1e-5}
TAG_TOL = {"rtol": 1e-4, "atol": 1e-6}


def _load_generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_musicnn_reference", FIXTURES / "make_musicnn_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def models() -> dict[str, MusicnnModel]:
    return {name: get_model(name) for name in MODELS}


@pytest.fixture(scope="module")
def msd(models: dict[str, MusicnnModel]) -> MusicnnModel:
    return models["MSD_musicnn"]


def _t(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _square(seconds: float, hz: float = 440.0) -> np.ndarray:
    return np.sign(np.sin(2 * np.pi * hz * _t(seconds) + 0.1)).astype(np.float32)


def _assert_finite(*arrays: np.ndarray) -> None:
    for array in arrays:
        assert np.all(np.isfinite(array)), "non-finite values"


def _copy_checkpoint(name: str, target: Path) -> Path:
    source = musicnn.checkpoint_dir(name)
    target.mkdir(parents=True)
    for file in (INDEX_FILE, DATA_FILE):
        shutil.copyfile(source / file, target / file)
    return target


# --------------------------------------------------------------------------- reference


def test_generator_signals_match_fixture(reference: dict[str, np.ndarray]) -> None:
    # The regenerated signals are the ones the fixture was computed from.
    assert set(GEN.SIGNALS) == {"mix", "chirp"}
    for key, make in GEN.SIGNALS.items():
        y = make()
        assert y.dtype == np.float32
        assert y.astype(np.float64).sum() == pytest.approx(float(reference[f"{key}_audio_sum"]))


def test_generator_does_not_import_librosa() -> None:
    # Importing the fixture generator (as this module does) must not need librosa / tf_keras.
    generator = str(FIXTURES / "make_musicnn_reference.py")
    code = (
        "import importlib.util, sys;"
        f"s = importlib.util.spec_from_file_location('g', {generator!r});"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m);"
        "m.mix_signal(); m.chirp_signal();"
        "bad = {'librosa', 'tensorflow', 'tf_keras', 'musicnn'} & set(sys.modules);"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("key", ["mix", "chirp"])
def test_log_mel_patches_match_librosa(reference: dict[str, np.ndarray], key: str) -> None:
    patches = MusicnnModel.patches(GEN.SIGNALS[key]())
    expected = reference[f"{key}_mel"]
    assert patches.dtype == np.float32
    assert patches.shape == expected.shape == (expected.shape[0], PATCH_FRAMES, N_MELS)
    np.testing.assert_allclose(patches, expected, **MEL_TOL)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("key", ["mix", "chirp"])
def test_outputs_match_original_graph(
    models: dict[str, MusicnnModel], reference: dict[str, np.ndarray], name: str, key: str
) -> None:
    model, prefix = models[name], MODELS[name]
    want_emb = reference[f"{key}_{prefix}_embeddings"]
    want_tags = reference[f"{key}_{prefix}_tags"]
    # From the fixture's own (librosa) patches: the network alone.
    emb, tags = model.embed_patches(reference[f"{key}_mel"])
    assert emb.dtype == tags.dtype == np.float32
    assert emb.shape == (want_emb.shape[0], MUSICNN_DIM)
    assert tags.shape == (want_tags.shape[0], N_TAGS)
    np.testing.assert_allclose(emb, want_emb, **EMB_TOL)
    np.testing.assert_allclose(tags, want_tags, **TAG_TOL)
    # From the audio: log-mel + network, end to end.
    emb, tags = model.embed_audio(GEN.SIGNALS[key]())
    np.testing.assert_allclose(emb, want_emb, **EMB_TOL)
    np.testing.assert_allclose(tags, want_tags, **TAG_TOL)


def test_tag_names_match_wheel_configuration(models: dict[str, MusicnnModel]) -> None:
    # Read the wheel's configuration.py as text (never import the package).
    namespace: dict[str, object] = {}
    source = (musicnn.checkpoint_dir("MSD_musicnn").parent / "configuration.py").read_text()
    exec(compile(source, "configuration.py", "exec"), namespace)  # plain assignments only
    assert models["MSD_musicnn"].tags == tuple(namespace["MSD_LABELS"])
    assert models["MTT_musicnn"].tags == tuple(namespace["MTT_LABELS"])
    assert len(models["MSD_musicnn"].tags) == len(models["MTT_musicnn"].tags) == N_TAGS


def test_mel_filterbank_is_slaney_area_normalised() -> None:
    bank = musicnn.mel_filterbank()
    assert bank.shape == (N_MELS, 1 + musicnn.N_FFT // 2)
    assert bank.dtype == np.float32 and not bank.flags.writeable
    assert np.all(bank >= 0) and np.all(bank.max(axis=1) > 0)
    # Slaney normalisation: each triangle's area (in Hz) is 1, up to sampling the narrow
    # low-frequency triangles at 31.25 Hz bins (the fixture pins the exact values).
    area = bank.sum(axis=1) * (SAMPLE_RATE / musicnn.N_FFT)
    assert area.mean() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(area, 1.0, rtol=0.1)
    # 96 triangles from 0 Hz to 8 kHz, centres increasing.
    assert np.all(np.diff(bank.argmax(axis=1)) >= 0)
    assert bank[0, 0] == 0 and bank[-1].argmax() > 240


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(lambda: 1e3 * GEN.mix_signal(), id="loud-1e3"),
        pytest.param(lambda: 32767.0 * _square(4.0), id="int16-scale-square"),
        pytest.param(lambda: _square(4.0), id="clipped-square"),
        pytest.param(lambda: np.zeros(4 * SAMPLE_RATE, np.float32), id="silent"),
        pytest.param(lambda: GEN.chirp_signal()[: SAMPLE_RATE // 2], id="short-0.5s"),
        pytest.param(lambda: np.array([0.5], np.float32), id="one-sample"),
    ],
)
def test_no_inf_or_nan(models: dict[str, MusicnnModel], signal) -> None:
    y = signal()
    n = max(1, y.size // (3 * SAMPLE_RATE))
    patches = MusicnnModel.patches(y)
    assert patches.shape == (n, PATCH_FRAMES, N_MELS)
    _assert_finite(patches)
    for model in models.values():
        emb, tags = model.embed_audio(y)
        assert emb.shape == (n, MUSICNN_DIM) and tags.shape == (n, N_TAGS)
        _assert_finite(emb, tags)
        assert np.all((tags >= 0) & (tags <= 1))
        seg = model.embed_segments(y, [(0.0, 10.0)])
        _assert_finite(seg.embeddings, seg.tags)


@pytest.mark.parametrize("n", [48000, 48256, 160000, 160001, 143616])
def test_patches_compute_only_the_frames_they_keep(n: int) -> None:
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.3
    full = musicnn.log_mel(y)
    k = full.shape[0] // PATCH_FRAMES * PATCH_FRAMES
    np.testing.assert_array_equal(musicnn.log_mel(y, max_frames=k), full[:k])
    np.testing.assert_array_equal(MusicnnModel.patches(y).reshape(-1, N_MELS), full[:k])


def test_silence_log_mel_is_zero() -> None:
    np.testing.assert_array_equal(MusicnnModel.patches(np.zeros(3 * SAMPLE_RATE)), 0.0)


def test_loud_log_mel_uses_float32_log(reference: dict[str, np.ndarray]) -> None:
    # Defect (a) of the original: mel power cast to float16 before log10(10000 x + 1), so any
    # mel value above ~6.55 (10000 x > 65504) became inf. Scaling the audio by k multiplies the
    # mel power by k^2; the port must follow that exactly, far beyond the float16 range.
    scale = 1e3
    loud = MusicnnModel.patches(scale * GEN.mix_signal()).astype(np.float64)
    _assert_finite(loud)
    assert loud.max() > 11.0  # the float16 path tops out at log10(65504 + 1) = 4.82, then inf
    ref = reference["mix_mel"].astype(np.float64)
    mel = (10.0**ref - 1.0) / 10000.0  # the librosa mel power behind the fixture
    keep = ref > 1.0  # where the float32 fixture determines the mel power precisely
    assert keep.mean() > 0.3
    expected = np.log10(10000.0 * scale**2 * mel + 1.0)
    np.testing.assert_allclose(loud[keep], expected[keep], rtol=0, atol=1e-4)
    # ... and the original signal itself already exceeds the float16 range somewhere.
    assert mel.max() > 65504 / 10000


def test_loud_input_does_not_collapse(msd: MusicnnModel) -> None:
    # With the float16 overflow every loud bin was inf and loud clips collapsed to one vector;
    # here different loud inputs (and different loudness) give clearly different embeddings.
    loud_mix, _ = msd.embed_audio(1e3 * GEN.mix_signal()[: 3 * SAMPLE_RATE])
    loud_chirp, _ = msd.embed_audio(1e3 * GEN.chirp_signal())
    louder_mix, _ = msd.embed_audio(1e4 * GEN.mix_signal()[: 3 * SAMPLE_RATE])
    _assert_finite(loud_mix, loud_chirp, louder_mix)
    assert np.linalg.norm(loud_mix - loud_chirp) > 0.1 * np.linalg.norm(loud_mix)
    assert np.linalg.norm(loud_mix - louder_mix) > 1e-3 * np.linalg.norm(loud_mix)


def test_distinct_patches_get_distinct_embeddings(msd: MusicnnModel) -> None:
    # Defect (b) of the original: every patch got the first patch's penultimate vector.
    rng = np.random.default_rng(3)
    parts = [
        GEN.chirp_signal()[: 3 * SAMPLE_RATE],
        GEN.mix_signal()[: 3 * SAMPLE_RATE],
        (0.3 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32),
        0.5 * _square(3.0, 110.0),
    ]
    y = np.concatenate(parts)
    emb, tags = msd.embed_audio(y)
    assert emb.shape == (4, MUSICNN_DIM)
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.linalg.norm(emb[i] - emb[j]) > 0.1 * np.linalg.norm(emb[i]), (i, j)
            assert np.abs(tags[i] - tags[j]).max() > 1e-3, (i, j)
    # Each row is what that patch gives on its own (no leakage between patches in a batch).
    patches = MusicnnModel.patches(y)
    for i in range(4):
        alone, alone_tags = msd.embed_patches(patches[i : i + 1])
        np.testing.assert_allclose(emb[i], alone[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tags[i], alone_tags[0], rtol=1e-5, atol=1e-6)


def test_batching_does_not_change_results(
    msd: MusicnnModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    y = np.concatenate([GEN.mix_signal(), GEN.chirp_signal(), GEN.mix_signal()[::-1]])
    patches = MusicnnModel.patches(y)
    assert patches.shape[0] == 5
    whole = msd.embed_patches(patches)
    monkeypatch.setattr(musicnn, "BATCH_SIZE", 2)  # 3 forward calls: 2 + 2 + 1
    batched = msd.embed_patches(patches)
    for a, b in zip(whole, batched, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_warm_up_runs_every_segment_batch_shape(
    msd: MusicnnModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, ...]] = []
    real = msd.embed_patches

    def spy(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(patches.shape)
        return real(patches)

    monkeypatch.setattr(msd, "embed_patches", spy)
    msd.warm_up()
    # a short segment, a 5-9 s tail and a full 10 s segment: each batch shape gets its kernels
    assert seen == [(n, PATCH_FRAMES, N_MELS) for n in (1, 2, 3)]


# --------------------------------------------------------------------------- segments


def _ten_seconds() -> np.ndarray:
    rng = np.random.default_rng(11)
    y = np.concatenate([GEN.mix_signal(), GEN.chirp_signal(), GEN.mix_signal()[:8000]])
    y = y + 0.01 * rng.standard_normal(y.size).astype(np.float32)
    assert y.size == 10 * SAMPLE_RATE
    return y.astype(np.float32)


def test_ten_second_segment_is_mean_of_three_patches(models: dict[str, MusicnnModel]) -> None:
    y = _ten_seconds()
    for model in models.values():
        seg = model.embed_segments(y, [(0.0, 10.0)])
        assert seg.n_patches == [3]
        assert seg.padded == [False]
        assert seg.embeddings.shape == (1, MUSICNN_DIM) and seg.tags.shape == (1, N_TAGS)
        assert seg.embeddings.dtype == seg.tags.dtype == np.float32
        emb, tags = model.embed_audio(y)
        assert emb.shape == (3, MUSICNN_DIM)
        assert np.linalg.norm(emb[0] - emb[1]) > 1e-2  # a mean of distinct patches
        np.testing.assert_allclose(seg.embeddings[0], emb.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(seg.tags[0], tags.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_several_segments_and_short_tail(msd: MusicnnModel) -> None:
    y = np.concatenate([_ten_seconds(), _ten_seconds()[::-1], GEN.chirp_signal()[:40000]])
    spans = [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]  # the last one has 2.5 s of audio
    seg = msd.embed_segments(y, spans)
    assert seg.n_patches == [3, 3, 1]
    assert seg.padded == [False, False, True]
    assert seg.embeddings.shape == (3, MUSICNN_DIM)
    for i, (start, end) in enumerate(spans):
        alone = msd.embed_segments(y[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], [(0, 10)])
        np.testing.assert_allclose(seg.embeddings[i], alone.embeddings[0], rtol=1e-5, atol=1e-5)
    tail = np.pad(y[20 * SAMPLE_RATE :], (0, 3 * SAMPLE_RATE - 40000))
    np.testing.assert_allclose(seg.embeddings[2], msd.embed_audio(tail)[0][0], rtol=1e-5, atol=1e-5)


def test_short_clip_is_padded_and_flagged(msd: MusicnnModel) -> None:
    y = GEN.chirp_signal()[: 2 * SAMPLE_RATE]
    seg = msd.embed_segments(y, [(0.0, 10.0)])
    assert seg.padded == [True]
    assert seg.n_patches == [1]
    padded = np.pad(y, (0, 3 * SAMPLE_RATE - y.size))
    np.testing.assert_allclose(
        seg.embeddings[0], msd.embed_audio(padded)[0][0], rtol=1e-5, atol=1e-5
    )
    # Exactly 3 s is one full patch, not padded; 0.5 s is padded.
    assert msd.embed_segments(GEN.chirp_signal()[: 3 * SAMPLE_RATE], [(0, 3)]).padded == [False]
    assert msd.embed_segments(y[: SAMPLE_RATE // 2], [(0, 10)]).padded == [True]


def test_no_segments(msd: MusicnnModel) -> None:
    seg = msd.embed_segments(GEN.mix_signal(), [])
    assert seg.embeddings.shape == (0, MUSICNN_DIM) and seg.tags.shape == (0, N_TAGS)
    assert seg.padded == [] and seg.n_patches == []


@pytest.mark.parametrize(
    ("audio", "spans", "match"),
    [
        (np.zeros((2, 48000), np.float32), [(0, 3)], "mono"),
        (np.zeros(0, np.float32), [(0, 3)], "empty"),
        (np.array([0.0, np.nan] * 30000, np.float32), [(0, 3)], "NaN"),
        (np.array([0.0, np.inf] * 30000, np.float32), [(0, 3)], "NaN or infinite"),
        (np.zeros(48000, np.float32), [(2.0, 1.0)], "bad segment span"),
        (np.zeros(48000, np.float32), [(-1.0, 1.0)], "bad segment span"),
        (np.zeros(48000, np.float32), [(5.0, 10.0)], "beyond the audio"),
    ],
)
def test_bad_input_is_rejected(msd: MusicnnModel, audio, spans, match) -> None:
    with pytest.raises(ValueError, match=match):
        msd.embed_segments(audio, spans)


def test_bad_patch_shape_is_rejected(msd: MusicnnModel) -> None:
    with pytest.raises(ValueError, match="patches must have shape"):
        msd.embed_patches(np.zeros((1, 100, N_MELS), np.float32))
    with pytest.raises(ValueError, match="patches must have shape"):
        msd.embed_patches(np.zeros((PATCH_FRAMES, N_MELS), np.float32))


# --------------------------------------------------------------------------- checkpoints


def test_installed_checkpoints_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(musicnn.ENV_DIR, raising=False)
    for name in MODELS:
        folder = musicnn.checkpoint_dir(name)
        assert folder.name == name and folder.parent.name == "musicnn"
        assert (folder / INDEX_FILE).is_file() and (folder / DATA_FILE).is_file()
    assert musicnn.checkpoint_dir() == musicnn.checkpoint_dir(musicnn.DEFAULT_MODEL)


def test_unknown_model_name() -> None:
    for call in (musicnn.checkpoint_dir, MusicnnModel.load, get_model):
        with pytest.raises(ValueError, match="unknown musicnn model 'MSD_vgg'"):
            call("MSD_vgg")


def test_missing_checkpoint_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(MusicnnCheckpointError, match="folder not found") as info:
        MusicnnModel.load("MSD_musicnn", missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("lost", [INDEX_FILE, DATA_FILE])
def test_missing_checkpoint_file(tmp_path: Path, lost: str) -> None:
    folder = _copy_checkpoint("MSD_musicnn", tmp_path / "ckpt")
    (folder / lost).unlink()
    with pytest.raises(MusicnnCheckpointError, match="file missing") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert str(folder / lost) in str(info.value)


def _truncate_data(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage_data(path: Path) -> None:
    rng = np.random.default_rng(5)
    path.write_bytes(rng.integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes())


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF  # inside one tensor: only its checksum tells
    path.write_bytes(bytes(data))


# Most of the 9.5 MB data file is Adam slots the port never reads (a flipped byte there is
# harmless); byte 0 is in the first tensor (batch_normalization/beta), 10 % in conv2d_1/kernel.
def _flip_first_byte(path: Path) -> None:
    _flip_byte(path, 0)


def _flip_kernel_byte(path: Path) -> None:
    _flip_byte(path, path.stat().st_size // 10)


def _empty_data(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "corrupt", [_truncate_data, _garbage_data, _flip_first_byte, _flip_kernel_byte, _empty_data]
)
def test_corrupt_data_file(tmp_path: Path, corrupt) -> None:
    folder = _copy_checkpoint("MSD_musicnn", tmp_path / "ckpt")
    corrupt(folder / DATA_FILE)
    with pytest.raises(MusicnnCheckpointError, match="corrupt or truncated") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert str(folder / DATA_FILE) in str(info.value)


@pytest.mark.parametrize("size", [0, 100, None])
def test_corrupt_index_file(tmp_path: Path, size: int | None) -> None:
    folder = _copy_checkpoint("MSD_musicnn", tmp_path / "ckpt")
    index = folder / INDEX_FILE
    if size is None:  # same size, garbage content
        index.write_bytes(np.random.default_rng(1).bytes(index.stat().st_size))
    else:
        index.write_bytes(index.read_bytes()[:size])
    with pytest.raises(MusicnnCheckpointError, match="cannot read") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert str(index) in str(info.value)


def _write_checkpoint(folder: Path, weights: dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    folder.mkdir(parents=True)
    names = sorted(weights)
    tf.raw_ops.SaveV2(
        prefix=str(folder) + os.sep,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(weights[n]) for n in names],
    )
    assert (folder / INDEX_FILE).is_file() and (folder / DATA_FILE).is_file()


@pytest.fixture(scope="module")
def msd_weights(models: dict[str, MusicnnModel]) -> dict[str, np.ndarray]:
    return musicnn.read_checkpoint(musicnn.checkpoint_dir("MSD_musicnn"))


def test_rewritten_checkpoint_loads_and_matches(
    tmp_path: Path, msd_weights: dict[str, np.ndarray], msd: MusicnnModel
) -> None:
    # Control for the tests below: an intact rewrite of the weights loads and gives the same
    # outputs, so their errors come from the single defect each one introduces.
    folder = tmp_path / "ckpt"
    _write_checkpoint(folder, msd_weights)
    model = MusicnnModel.load("MSD_musicnn", folder)
    patches = MusicnnModel.patches(GEN.mix_signal())
    for a, b in zip(model.embed_patches(patches), msd.embed_patches(patches), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_missing_a_variable(tmp_path: Path, msd_weights: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "ckpt"
    _write_checkpoint(
        folder, {k: v for k, v in msd_weights.items() if k != "batch_normalization_10/gamma"}
    )
    with pytest.raises(MusicnnCheckpointError, match="no variable") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert "batch_normalization_10/gamma" in str(info.value)
    assert str(folder / INDEX_FILE) in str(info.value)


def test_checkpoint_variable_with_wrong_shape(
    tmp_path: Path, msd_weights: dict[str, np.ndarray]
) -> None:
    folder = tmp_path / "ckpt"
    _write_checkpoint(folder, {**msd_weights, "dense/kernel": msd_weights["dense/kernel"][:-1]})
    with pytest.raises(MusicnnCheckpointError, match="has shape") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert "dense/kernel" in str(info.value) and str(folder / INDEX_FILE) in str(info.value)


def test_checkpoint_variable_not_finite(tmp_path: Path, msd_weights: dict[str, np.ndarray]) -> None:
    bias = msd_weights["dense_1/bias"].copy()
    bias[3] = np.nan
    folder = tmp_path / "ckpt"
    _write_checkpoint(folder, {**msd_weights, "dense_1/bias": bias})
    with pytest.raises(MusicnnCheckpointError, match="not finite") as info:
        MusicnnModel.load("MSD_musicnn", folder)
    assert "dense_1/bias" in str(info.value) and str(folder / DATA_FILE) in str(info.value)


def test_checkpoint_of_another_architecture(models: dict[str, MusicnnModel]) -> None:
    # The wheel's VGG checkpoints (same folder layout, other variables) are refused, not run.
    vgg = musicnn.checkpoint_dir("MSD_musicnn").parent / "MSD_vgg"
    with pytest.raises(MusicnnCheckpointError, match="no variable|has shape") as info:
        MusicnnModel.load("MSD_musicnn", vgg)
    assert str(vgg / INDEX_FILE) in str(info.value)


# --------------------------------------------------------------------------- MVSIM_MUSICNN_DIR


def test_env_dir_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, msd: MusicnnModel
) -> None:
    _copy_checkpoint("MSD_musicnn", tmp_path / "MSD_musicnn")
    monkeypatch.setenv(musicnn.ENV_DIR, str(tmp_path))
    assert musicnn.checkpoint_dir("MSD_musicnn") == tmp_path / "MSD_musicnn"
    # get_model loads from there (a fresh cache, so the module's shared models are untouched).
    monkeypatch.setattr(musicnn, "_models", {})
    model = get_model("MSD_musicnn")
    assert model is not msd
    patches = MusicnnModel.patches(GEN.chirp_signal())
    np.testing.assert_array_equal(model.embed_patches(patches)[0], msd.embed_patches(patches)[0])


def test_env_dir_without_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _copy_checkpoint("MSD_musicnn", tmp_path / "MSD_musicnn")
    monkeypatch.setenv(musicnn.ENV_DIR, str(tmp_path))
    monkeypatch.setattr(musicnn, "_models", {})
    with pytest.raises(MusicnnCheckpointError, match=musicnn.ENV_DIR) as info:
        get_model("MTT_musicnn")  # no fallback to the installed package
    assert str(tmp_path / "MTT_musicnn") in str(info.value)


def test_env_dir_with_empty_model_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "MSD_musicnn").mkdir()
    monkeypatch.setenv(musicnn.ENV_DIR, str(tmp_path))
    monkeypatch.setattr(musicnn, "_models", {})
    with pytest.raises(MusicnnCheckpointError, match="file missing") as info:
        get_model("MSD_musicnn")
    assert str(tmp_path / "MSD_musicnn" / INDEX_FILE) in str(info.value)
    assert musicnn._models == {}  # a failed load is not cached


def test_empty_env_var_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(musicnn.ENV_DIR, "")
    assert musicnn.checkpoint_dir("MSD_musicnn").parent.name == "musicnn"


def test_package_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(musicnn.ENV_DIR, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        musicnn.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "musicnn" else real(name, *a),
    )
    with pytest.raises(MusicnnCheckpointError, match="not installed"):
        musicnn.checkpoint_dir("MSD_musicnn")


# --------------------------------------------------------------------------- process


def test_import_does_not_import_tensorflow() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, features.musicnn as m;"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported';"
        "assert 'musicnn' not in sys.modules, 'the wheel imported';"
        "m.checkpoint_dir('MSD_musicnn'); m.MusicnnModel.patches(m.np.zeros(100));"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported by patches()'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=120)


def test_get_model_returns_one_instance(models: dict[str, MusicnnModel]) -> None:
    assert get_model() is get_model("MSD_musicnn") is models["MSD_musicnn"]
    assert get_model("MTT_musicnn") is get_model("MTT_musicnn") is models["MTT_musicnn"]
    assert models["MSD_musicnn"] is not models["MTT_musicnn"]
    assert models["MSD_musicnn"].name == "MSD_musicnn"


def test_get_model_loads_once_under_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    gate = threading.Barrier(8)

    def fake_load(name: str, folder: Path | None = None) -> object:
        loads.append(name)
        return object()

    monkeypatch.setattr(musicnn, "_models", {})
    monkeypatch.setattr(MusicnnModel, "load", staticmethod(fake_load))
    results: list[object] = []

    def worker() -> None:
        gate.wait()
        results.append(get_model("MTT_musicnn"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["MTT_musicnn"]
    assert len(results) == 8 and all(r is results[0] for r in results)
