"""Training report figures (PNG).

Uses matplotlib's object API with the Agg canvas directly instead of ``pyplot``: no global
backend switch, no GUI, and safe to call from worker threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _save(fig, path: Path | str) -> Path:  # noqa: ANN001 - matplotlib Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=100)
    return path


def plot_history(
    history: Mapping[str, Sequence[float]], path: Path | str, *, best_epoch: int | None = None
) -> Path:
    """Loss curves (total / reconstruction / genre) and genre accuracy, train vs validation.

    ``best_epoch`` (1-based), if given, is marked with a dotted vertical line.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, style in (("loss", "-"), ("reconstruction_loss", "--"), ("genre_loss", ":")):
        for prefix, color in (("", "tab:blue"), ("val_", "tab:orange")):
            values = history.get(prefix + key)
            if values:
                label = f"{'val' if prefix else 'train'} {key}"
                ax_loss.plot(range(1, len(values) + 1), values, style, color=color, label=label)
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax_loss.legend(fontsize=7)
    for prefix, color in (("", "tab:blue"), ("val_", "tab:orange")):
        values = history.get(prefix + "genre_accuracy")
        if values:
            ax_acc.plot(
                range(1, len(values) + 1),
                values,
                color=color,
                label=("val" if prefix else "train") + " accuracy",
            )
    ax_acc.set(title="Genre accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1)
    ax_acc.legend(fontsize=7)
    return _save(fig, path)


def plot_confusion(
    matrix: Sequence[Sequence[int]],
    labels: Sequence[str],
    path: Path | str,
    *,
    title: str = "Validation confusion matrix",
) -> Path:
    """Confusion matrix heat map (rows = true genre, columns = predicted) with counts."""
    from matplotlib.figure import Figure

    cm = np.asarray(matrix, dtype=np.int64)
    n = len(labels)
    size = max(4.0, 0.55 * n + 2.5)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.subplots()
    # Colour by row-normalised recall so rare genres are as readable as common ones.
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true genre")
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    return _save(fig, path)
