"""Figures for the lab: images, samples, learning curves, confusion matrix, mistakes.

Plotting code too long to inline into a notebook. Every function takes its data and
the class names as arguments and returns the `Figure` it drew. Figures are detached
from pyplot, so a notebook shows each one once (as the value of its cell) and a script
can `savefig` it without a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

NORMALISATIONS = {
    "lab": "normalised by predicted class, then over all cells (a perfect column is {:.0f}%)",
    "true": "normalised by true class (each row sums to 100%)",
    "all": "share of all test images (the whole matrix sums to 100%)",
}


def _detached(fig: Figure) -> Figure:
    plt.close(fig)  # shown once, as the cell's value, not again by pyplot
    return fig


def plot_image(image: np.ndarray, title: str | None = None) -> Figure:
    """Show one raw image with a colour bar of its pixel values."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    shown = ax.imshow(np.squeeze(image))
    fig.colorbar(shown, ax=ax, label="pixel value")
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return _detached(fig)


def plot_samples(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    nrows: int = 5,
    ncols: int = 5,
) -> Figure:
    """Show the first ``nrows * ncols`` images in a grid, each labelled with its class.

    Args:
        images: array (n, 28, 28) or (n, 28, 28, 1).
        labels: integer labels, or one-hot rows.
        class_names: the name of each class, by label.
    """
    labels = _as_integer_labels(labels)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 2.0 * nrows))
    for i, ax in enumerate(np.ravel(axes)):
        ax.imshow(np.squeeze(images[i]), cmap="binary")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(class_names[labels[i]])
    fig.tight_layout()
    return _detached(fig)


def plot_history(history: Any) -> Figure:
    """Plot accuracy and loss per epoch, training against validation, side by side.

    Args:
        history: the `History` that `model.fit` returns, or its ``.history`` dict with
            "accuracy" and "loss" (and "val_accuracy", "val_loss" when validated). The accuracy
            may have another name Keras gives it ("acc", "categorical_accuracy").
    """
    curves: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    named = [k for k in curves if "acc" in k and not k.startswith("val_")]
    accuracy = "accuracy" if "accuracy" in curves or not named else named[0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, title in zip(axes, (accuracy, "loss"), ("Accuracy", "Loss"), strict=True):
        epochs = np.arange(1, len(curves[metric]) + 1)
        ax.plot(epochs, curves[metric], "o-", label="training")
        if f"val_{metric}" in curves:
            ax.plot(epochs, curves[f"val_{metric}"], "s--", label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _detached(fig)


def confusion_percent(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, normalize: str = "lab"
) -> np.ndarray:
    """Return the confusion matrix (rows: true class, columns: predicted) in percent.

    Args:
        normalize: "lab" divides each column by its total and then the matrix by its
            sum, as the lab does (a perfect classifier shows 100/num_classes % on the
            diagonal); "true" divides each row by its total; "all" divides by the count.
    """
    if normalize not in NORMALISATIONS:
        raise ValueError(f"normalize must be one of {sorted(NORMALISATIONS)}, not {normalize!r}")
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(float)
    if normalize == "all":
        return 100 * counts / counts.sum()
    axis = 0 if normalize == "lab" else 1
    totals = counts.sum(axis=axis, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    if normalize == "lab":
        shares = shares / shares.sum()
    return 100 * shares


def plot_confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    normalize: str = "lab",
) -> Figure:
    """Draw the confusion matrix as an annotated heatmap in percent.

    Args:
        y_true, y_pred: integer class labels (or one-hot / probability rows).
        class_names: names for both axes, by label.
        normalize: see `confusion_percent`.
    """
    y_true, y_pred = _as_integer_labels(y_true), _as_integer_labels(y_pred)
    k = len(class_names)
    cells = confusion_percent(y_true, y_pred, k, normalize)
    fig, ax = plt.subplots(figsize=(10, 8))
    sns.heatmap(
        cells,
        annot=np.vectorize(lambda v: f"{v:.1f}")(cells),
        fmt="",
        cmap="Blues",
        xticklabels=class_names,
        yticklabels=class_names,
        cbar_kws={"label": "percent"},
        ax=ax,
    )
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title("Confusion matrix (%), " + NORMALISATIONS[normalize].format(100 / k))
    ax.tick_params(axis="x", labelrotation=40)
    ax.tick_params(axis="y", labelrotation=0)
    fig.tight_layout()
    return _detached(fig)


def plot_misclassified(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    nrows: int = 3,
    ncols: int = 6,
) -> Figure:
    """Show the first misclassified images with their true and predicted class."""
    y_true, y_pred = _as_integer_labels(y_true), _as_integer_labels(y_pred)
    all_wrong = np.flatnonzero(y_true != y_pred)
    wrong = all_wrong[: nrows * ncols]
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.4 * nrows))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), wrong, strict=False):
        ax.imshow(np.squeeze(images[i]), cmap="binary")
        ax.set_title(
            f"true: {class_names[y_true[i]]}\npred: {class_names[y_pred[i]]}",
            fontsize=9,
            color="firebrick",
        )
    fig.suptitle(f"Misclassified images: {len(wrong)} of {len(all_wrong):,}")
    fig.tight_layout()
    return _detached(fig)


def plot_accuracy_vs_parameters(
    parameters: Sequence[int], accuracies: Sequence[float], labels: Sequence[str]
) -> Figure:
    """Plot test accuracy against parameter count (log scale), one labelled point per model.

    Args:
        parameters: each model's parameter count.
        accuracies: each model's test accuracy, a fraction.
        labels: a short name for each point, e.g. "4 filters".
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(parameters, accuracies, "o-")
    for x, y, label in zip(parameters, accuracies, labels, strict=False):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(0, 8), ha="center")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy against model size")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return _detached(fig)


def _as_integer_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim > 1 else labels.astype(int)
