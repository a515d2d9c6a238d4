"""Scaling, fixed-length sampling, splits and training-set validation (pure NumPy, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from ml.dataset import (
    N_FEATURES,
    SEQUENCE_LENGTH,
    ArtifactError,
    Scaler,
    ScalerError,
    TrainingDataError,
    build_arrays,
    fit_scaler,
    load_labels,
    pooled_features,
    save_labels,
    stratified_split,
    to_fixed_length,
    validate_training_set,
)
from tests.ml import make_sequences


def _numbered(n: int) -> np.ndarray:
    """Segment i has every feature equal to i, so rows identify their source segment."""
    return np.repeat(np.arange(n, dtype=np.float32)[:, None], N_FEATURES, axis=1)


def test_short_sequence_is_zero_padded_at_the_end_with_mask() -> None:
    seq = _numbered(5) + 1.0
    arr, mask = to_fixed_length(seq)
    assert arr.shape == (SEQUENCE_LENGTH, N_FEATURES) and arr.dtype == np.float32
    assert mask.tolist() == [True] * 5 + [False] * (SEQUENCE_LENGTH - 5)
    np.testing.assert_array_equal(arr[:5], seq)
    assert not arr[5:].any()


def test_long_sequence_is_sampled_over_whole_length_not_truncated() -> None:
    arr, mask = to_fixed_length(_numbered(100))
    picked = arr[:, 0].astype(int)
    assert mask.all()
    assert picked[0] == 0 and picked[-1] == 99  # first and last segment kept
    assert np.all(np.diff(picked) > 0)  # in order, no duplicates
    assert np.diff(picked).max() <= 3  # evenly spread (100 / 43 ≈ 2.3)


def test_exact_length_is_unchanged() -> None:
    seq = _numbered(SEQUENCE_LENGTH)
    arr, mask = to_fixed_length(seq)
    np.testing.assert_array_equal(arr, seq)
    assert mask.all()


def test_scaler_pools_all_segments_of_all_videos_and_floors_std() -> None:
    seqs, _ = make_sequences(n_per_class=3, n_classes=2)  # variable lengths, unpadded
    for s in seqs:
        s[:, 7] = 3.0  # constant feature: std 0 must not divide by zero
    scaler = fit_scaler(seqs)
    stacked = np.concatenate(seqs)
    np.testing.assert_allclose(scaler.mean, stacked.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.std[:7], stacked.std(axis=0)[:7], rtol=1e-5)
    out = scaler.transform(seqs[0])
    assert np.isfinite(out).all() and not out[:, 7].any()


def test_scaler_ignores_non_finite_values_and_transform_zeroes_them() -> None:
    seq = np.ones((4, N_FEATURES), np.float32)
    seq[:, 0] = [1.0, 3.0, np.nan, np.inf]
    seq[:, 1] = np.nan  # never extracted
    scaler = fit_scaler([seq])
    assert scaler.mean[0] == pytest.approx(2.0) and scaler.std[0] == pytest.approx(1.0)
    assert scaler.mean[1] == 0.0 and scaler.std[1] == 1.0
    assert np.isfinite(scaler.transform(seq)).all()


def test_scaler_save_load_roundtrip_without_pickle(tmp_path) -> None:
    scaler = fit_scaler(make_sequences(n_per_class=2, n_classes=2)[0])
    path = scaler.save(tmp_path / "scaler.npz")
    assert path.exists() and path.name == "scaler.npz"
    loaded = Scaler.load(path)
    np.testing.assert_array_equal(loaded.mean, scaler.mean)
    np.testing.assert_array_equal(loaded.std, scaler.std)


def test_scaler_load_errors_are_explicit(tmp_path) -> None:
    with pytest.raises(ScalerError, match="not found"):
        Scaler.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ScalerError, match="expected"):
        Scaler.load(bad)


def test_build_arrays_pads_after_scaling_and_masks() -> None:
    seqs = [np.full((3, N_FEATURES), 5.0, np.float32), np.full((60, N_FEATURES), 9.0, np.float32)]
    ones = np.ones(N_FEATURES, np.float32)
    scaler = Scaler(mean=ones, std=2 * ones)
    X, mask = build_arrays(seqs, scaler)
    assert X.shape == (2, SEQUENCE_LENGTH, N_FEATURES) and X.dtype == np.float32
    assert mask.sum(axis=1).tolist() == [3, SEQUENCE_LENGTH]
    assert np.all(X[0, :3] == 2.0) and not X[0, 3:].any()  # (5 - 1) / 2, then exact zeros
    pooled = pooled_features(X, mask)
    assert np.allclose(pooled[0], 2.0) and np.allclose(pooled[1], 4.0)  # padding ignored


def test_build_arrays_rejects_wrong_feature_count() -> None:
    scaler = Scaler(mean=np.zeros(N_FEATURES, np.float32), std=np.ones(N_FEATURES, np.float32))
    with pytest.raises(TrainingDataError, match=r"video #1 .*expected \(n_segments, 422\)"):
        build_arrays([np.zeros((2, N_FEATURES)), np.zeros((2, 10))], scaler)


def test_stratified_split_is_deterministic_disjoint_and_covers_each_genre() -> None:
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 2
    train, val = stratified_split(labels, 0.2, seed=1)
    again = stratified_split(labels, 0.2, seed=1)
    assert train.tolist() == again[0].tolist() and val.tolist() == again[1].tolist()
    assert set(train).isdisjoint(val) and sorted([*train, *val]) == list(range(len(labels)))
    val_labels = [labels[i] for i in val]
    assert val_labels.count("a") == 2 and val_labels.count("b") == 1 and val_labels.count("c") == 1
    assert {labels[i] for i in train} == {"a", "b", "c"}
    assert stratified_split(labels, 0.2, seed=2)[1].tolist() != val.tolist()


def test_validate_training_set_needs_two_genres() -> None:
    with pytest.raises(TrainingDataError, match="at least 2 genres; found only 'rock'"):
        validate_training_set(["rock"] * 5)
    with pytest.raises(TrainingDataError, match="found none"):
        validate_training_set([])


def test_validate_training_set_names_genre_with_one_video() -> None:
    with pytest.raises(TrainingDataError, match=r"too few for: 'jazz' \(1 video\)"):
        validate_training_set(["rock", "rock", "jazz", "pop", "pop"])
    validate_training_set(["rock", "rock", "jazz", "jazz"])  # fine


def test_labels_roundtrip_and_errors(tmp_path) -> None:
    path = save_labels(["pop", "rock", "ñandú"], tmp_path / "labels.json")
    assert load_labels(path) == ["pop", "rock", "ñandú"]
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(ArtifactError, match="non-empty JSON list"):
        load_labels(tmp_path / "bad.json")
