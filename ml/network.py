"""Composite LSTM autoencoder + genre classifier (Keras 3, TensorFlow backend).

Architecture (defaults = the original project)::

    sequence (T, 422) + mask (T,) ──► encoder LSTM(40) ──► code (40)
        code ──► RepeatVector(44) ─► LSTM(40, seq) ─► TimeDistributed(Dense(422))  "reconstruction"
        code ──► Dense(64, relu) ─► Dense(n_genres, softmax)                       "genre"

Masking: padded steps are excluded by feeding the boolean mask to the encoder as a second
model input (``encoder(x, mask=mask)``) instead of a ``Masking`` layer. After
standardisation 0.0 is the mean of every feature, i.e. a perfectly ordinary value, so a
``Masking(0.0)`` layer could silently drop a real segment, and a sentinel value would have to be
kept out of the data forever. With an explicit mask the LSTM carries its state unchanged
across padded steps, so the code of a padded video equals the code of the unpadded video,
whatever is stored in the padding.

The time axis of the inputs is ``None``: the encoder accepts any length (used by the masking
test and by callers that skip padding); only the decoder has a fixed length ``seq_len``, so
training always feeds ``seq_len`` steps.

Reconstruction loss is a masked MAE (:func:`masked_mae`): the target carries the mask as an
extra last channel, and each video's error is averaged over its real steps only.

Import this module lazily: it imports TensorFlow (seconds, hundreds of MB).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from ml.dataset import CODE_DIM, N_FEATURES, SEQUENCE_LENGTH  # noqa: E402

# Layer / output names are part of the saved-model contract (inference looks them up).
INPUT_SEQUENCE = "sequence"
INPUT_MASK = "mask"
ENCODER = "encoder"
CODE = "code"
RECONSTRUCTION = "reconstruction"
GENRE = "genre"


class NetworkError(ValueError):
    """A model does not have the structure this module expects."""


@keras.saving.register_keras_serializable(package="mvsim")
def masked_mae(y_true, y_pred):  # noqa: ANN001, ANN201 - Keras loss signature
    """Mean absolute error over real timesteps only.

    ``y_true`` is ``(N, T, F + 1)``: the target features plus the mask (1 real, 0 padded)
    as last channel (see :func:`reconstruction_target`). Returns one value per video: the
    mean error over its real steps, so short and long videos weigh the same.
    """
    target = y_true[..., :-1]
    weight = y_true[..., -1]
    per_step = ops.mean(ops.abs(target - y_pred), axis=-1)
    return ops.sum(per_step * weight, axis=-1) / ops.maximum(ops.sum(weight, axis=-1), 1.0)


def reconstruction_target(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Build the ``masked_mae`` target: ``X`` with the mask appended as a last channel."""
    return np.concatenate([X, mask[..., None].astype(X.dtype)], axis=-1)


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TF; optionally force deterministic TF kernels.

    Op determinism is process-wide and cannot be switched off again; it is what makes two
    CPU trainings with the same seed produce the same weights.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def build_composite(
    n_classes: int,
    seq_len: int = SEQUENCE_LENGTH,
    n_features: int = N_FEATURES,
    code_dim: int = CODE_DIM,
    *,
    bidirectional: bool = False,
    dropout: float = 0.0,
    dense_units: int = 64,
    learning_rate: float = 1e-3,
    reconstruction_weight: float = 1.0,
    genre_weight: float = 1.0,
) -> keras.Model:
    """Build and compile the composite model.

    Inputs: ``sequence`` ``(batch, T, n_features)`` float32 and ``mask`` ``(batch, T)`` bool.
    Outputs: ``reconstruction`` ``(batch, seq_len, n_features)`` and ``genre``
    ``(batch, n_classes)`` softmax probabilities. ``bidirectional`` uses two LSTMs of
    ``code_dim // 2`` units whose final states are concatenated (code stays ``code_dim``).
    ``dropout`` applies to the encoder inputs and to the code before the classifier.
    """
    if n_classes < 2:
        raise NetworkError(f"A genre classifier needs at least 2 classes, got {n_classes}.")
    if bidirectional and code_dim % 2:
        raise NetworkError(f"Bidirectional encoder needs an even code_dim, got {code_dim}.")
    if not 0.0 <= dropout < 1.0:
        raise NetworkError(f"dropout must be in [0, 1), got {dropout}.")

    sequence = keras.Input(shape=(None, n_features), name=INPUT_SEQUENCE)
    mask = keras.Input(shape=(None,), dtype="bool", name=INPUT_MASK)

    if bidirectional:
        encoder = layers.Bidirectional(
            layers.LSTM(code_dim // 2, dropout=dropout), merge_mode="concat", name=ENCODER
        )
    else:
        encoder = layers.LSTM(code_dim, dropout=dropout, name=ENCODER)
    # The code layer gives the code a stable name to cut the encoder sub-model at. It is a
    # fixed shift (identity kernel, bias 0 while training): after training, centre_code sets
    # the bias to minus the training videos' mean code, so codes are centred for cosine search.
    code = layers.Dense(code_dim, kernel_initializer="identity", trainable=False, name=CODE)(
        encoder(sequence, mask=mask)
    )

    decoded = layers.RepeatVector(seq_len, name="repeat")(code)
    decoded = layers.LSTM(code_dim, return_sequences=True, name="decoder")(decoded)
    reconstruction = layers.TimeDistributed(layers.Dense(n_features), name=RECONSTRUCTION)(decoded)

    hidden = layers.Dropout(dropout, name="code_dropout")(code) if dropout else code
    hidden = layers.Dense(dense_units, activation="relu", name="classifier_hidden")(hidden)
    if dropout:
        hidden = layers.Dropout(dropout, name="classifier_dropout")(hidden)
    genre = layers.Dense(n_classes, activation="softmax", name=GENRE)(hidden)

    model = keras.Model(
        inputs={INPUT_SEQUENCE: sequence, INPUT_MASK: mask},
        outputs={RECONSTRUCTION: reconstruction, GENRE: genre},
        name="composite_autoencoder",
    )
    model.compile(
        # clipnorm: LSTMs on unbounded standardised inputs occasionally spike early on.
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=1.0),
        loss={RECONSTRUCTION: masked_mae, GENRE: "sparse_categorical_crossentropy"},
        loss_weights={RECONSTRUCTION: reconstruction_weight, GENRE: genre_weight},
        metrics={GENRE: ["accuracy"]},
    )
    return model


def centre_code(model: keras.Model, mean: np.ndarray) -> None:
    """Subtract ``mean`` from the model's code, in place, without changing its outputs.

    The code layer's bias absorbs ``-mean``; the two layers that read the code (the decoder
    LSTM and the classifier's hidden layer) are affine in it, so their biases absorb
    ``mean @ kernel`` and the reconstruction and genre probabilities stay the same.

    Why: codes are searched by cosine, and cosine between vectors that share a large common
    component mostly measures that component (everything looks alike, a few "hub" codes are
    everyone's neighbour). Centring on the training videos' mean code is the standard remedy
    (no hyper-parameter). bench/music.py on the 54 real clips, 5 x 5-fold, each pass paired
    with the uncentred code on the same folds: held-out code P@5 0.854 -> 0.862 (+0.008,
    paired std error 0.0025, never lower); classifier accuracy unchanged (0.944) since the
    outputs are; Euclidean distances do not change.
    """
    try:
        code = model.get_layer(CODE)
        decoder = model.get_layer("decoder")
        hidden = model.get_layer("classifier_hidden")
    except ValueError as exc:
        raise NetworkError(f"Model '{model.name}' has no centrable code ({exc}).") from exc
    if not isinstance(code, layers.Dense):
        raise NetworkError(f"Model '{model.name}' has a fixed code layer; it cannot be centred.")
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    kernel, bias = code.get_weights()
    code.set_weights([kernel, bias - mean])
    d_kernel, d_recurrent, d_bias = decoder.get_weights()
    decoder.set_weights([d_kernel, d_recurrent, d_bias + mean @ d_kernel])
    h_kernel, h_bias = hidden.get_weights()
    hidden.set_weights([h_kernel, h_bias + mean @ h_kernel])


def encoder_model(model: keras.Model) -> keras.Model:
    """Sub-model ``{sequence, mask} -> {code: (N, code_dim), genre: (N, n_classes)}``.

    Shares weights with ``model`` and skips the decoder, which is most of the compute. Inputs
    may have any number of timesteps (padding must be marked False in the mask).
    """
    try:
        code = model.get_layer(CODE).output
        genre = model.get_layer(GENRE).output
    except ValueError as exc:
        raise NetworkError(
            f"Model '{model.name}' is not a composite autoencoder built by build_composite "
            f"(missing layer: {exc})."
        ) from exc
    return keras.Model(inputs=model.inputs, outputs={CODE: code, GENRE: genre}, name="encoder")
