"""course_utils.plots: each figure's titles, axis labels and class names, headless."""

from __future__ import annotations

import importlib.util
import io
from itertools import pairwise

import matplotlib.image as plt_image
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plots
from course_utils.data import CLASS_NAMES
from support import ROOT


def _png(fig: Figure, dpi: float | None = None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def predictions(fashion_mnist):
    """True test labels and predictions that are right 80% of the time (a fixed pattern)."""
    _, (_, y_test) = fashion_mnist
    predicted = y_test.copy()
    wrong = np.arange(0, len(y_test), 5)
    predicted[wrong] = (y_test[wrong] + 1) % 10
    return y_test, predicted


def test_plot_image_has_colour_bar(fashion_mnist):
    (x_train, _), _ = fashion_mnist
    fig = plots.plot_image(x_train[0], title="Ankle boot")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_title() == "Ankle boot"
    assert fig.axes[1].get_ylabel() == "pixel value"
    assert _png(fig).startswith(b"\x89PNG")


def test_plot_samples_labels_25_images(fashion_mnist):
    (x_train, y_train), _ = fashion_mnist
    fig = plots.plot_samples(x_train, y_train, CLASS_NAMES)
    assert len(fig.axes) == 25
    assert [ax.get_xlabel() for ax in fig.axes] == [CLASS_NAMES[y] for y in y_train[:25]]
    one_hot = np.eye(10)[y_train]
    assert [ax.get_xlabel() for ax in plots.plot_samples(x_train, one_hot, CLASS_NAMES).axes] == [
        CLASS_NAMES[y] for y in y_train[:25]
    ]


def test_plot_history_curves_start_at_epoch_one():
    history = {
        "accuracy": [0.8, 0.85, 0.87],
        "val_accuracy": [0.82, 0.84, 0.85],
        "loss": [0.6, 0.4, 0.35],
        "val_loss": [0.5, 0.45, 0.42],
    }
    fig = plots.plot_history(history)
    accuracy, loss = fig.axes
    assert (accuracy.get_title(), loss.get_title()) == ("Accuracy", "Loss")
    for ax, metric in ((accuracy, "accuracy"), (loss, "loss")):
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == metric
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        training, validation = ax.get_lines()
        assert list(training.get_xdata()) == [1, 2, 3]
        assert list(training.get_ydata()) == history[metric]
        assert list(validation.get_ydata()) == history[f"val_{metric}"]


def test_plot_history_without_validation_has_one_curve():
    fig = plots.plot_history({"accuracy": [0.8], "loss": [0.5]})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["training"]


@pytest.mark.parametrize("name", ["acc", "categorical_accuracy"])
def test_plot_history_takes_the_accuracy_by_any_name_keras_gives_it(name):
    history = {name: [0.8, 0.9], f"val_{name}": [0.7, 0.8], "loss": [0.5, 0.4]}
    accuracy, _ = plots.plot_history(history).axes
    assert accuracy.get_title() == "Accuracy" and accuracy.get_ylabel() == name
    assert [list(line.get_ydata()) for line in accuracy.get_lines()] == [[0.8, 0.9], [0.7, 0.8]]


def test_confusion_percent_lab_normalisation(predictions):
    y_true, y_pred = predictions
    lab = plots.confusion_percent(y_true, y_pred, 10, "lab")
    assert lab.sum() == pytest.approx(100)
    np.testing.assert_allclose(lab.sum(axis=0), 10.0)  # every column: 100% / 10 classes
    by_true = plots.confusion_percent(y_true, y_pred, 10, "true")
    np.testing.assert_allclose(by_true.sum(axis=1), 100.0)
    recall = [100 * np.mean(y_pred[y_true == k] == k) for k in range(10)]
    np.testing.assert_allclose(np.diag(by_true), recall)
    assert np.mean(recall) == pytest.approx(80.0)
    assert plots.confusion_percent(y_true, y_pred, 10, "all").sum() == pytest.approx(100)
    with pytest.raises(ValueError, match="normalize must be one of"):
        plots.confusion_percent(y_true, y_pred, 10, "rows")


def test_confusion_percent_matches_the_labs_formula(predictions):
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = predictions
    cm = confusion_matrix(y_true, y_pred, normalize="pred")
    np.testing.assert_allclose(plots.confusion_percent(y_true, y_pred, 10), 100 * cm / cm.sum())


@pytest.mark.parametrize("normalize", ["lab", "true"])
def test_plot_confusion_matrix_names_both_axes(predictions, normalize):
    y_true, y_pred = predictions
    fig = plots.plot_confusion_matrix(y_true, y_pred, CLASS_NAMES, normalize=normalize)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASS_NAMES)
    assert "normalised by " + ("predicted" if normalize == "lab" else "true") in ax.get_title()
    annotations = [t.get_text() for t in ax.texts]
    assert len(annotations) == 100
    top_left = plots.confusion_percent(y_true, y_pred, 10, normalize)[0, 0]
    assert annotations[0] == f"{top_left:.1f}" and 7.0 < float(annotations[0]) < 90.0
    assert len(_png(fig)) > 10_000


def test_plot_misclassified_titles_true_and_predicted(fashion_mnist, predictions):
    _, (x_test, _) = fashion_mnist
    y_true, y_pred = predictions
    fig = plots.plot_misclassified(x_test, y_true, y_pred, CLASS_NAMES, nrows=2, ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    wrong = np.flatnonzero(y_true != y_pred)[:6]
    assert titles == [
        f"true: {CLASS_NAMES[y_true[i]]}\npred: {CLASS_NAMES[y_pred[i]]}" for i in wrong
    ]
    assert "6 of 2,000" in fig._suptitle.get_text()


def test_plot_accuracy_vs_parameters_uses_a_log_axis():
    fig = plots.plot_accuracy_vs_parameters(
        [8070, 16418, 33978], [0.88, 0.9, 0.91], ["4 filters", "8 filters", "16 filters"]
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "parameters (log scale)" and ax.get_ylabel() == "test accuracy"
    assert [t.get_text() for t in ax.texts] == ["4 filters", "8 filters", "16 filters"]
    assert list(ax.get_lines()[0].get_xdata()) == [8070, 16418, 33978]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _ink(pixels: np.ndarray) -> np.ndarray:
    """Where an RGB(A) image is drawn on: pixels clearly darker or more coloured than white
    (a light grid is not ink)."""
    return np.abs(pixels[..., :3] - 1).max(axis=-1) > 0.1


HISTORY = {
    "accuracy": [0.8, 0.85],
    "val_accuracy": [0.82, 0.84],
    "loss": [0.6, 0.4],
    "val_loss": [0.5, 0.45],
}


def test_every_figure_draws_in_each_of_its_axes_and_fits_a_notebook(fashion_mnist, predictions):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    (x_train, y_train), (x_test, _) = fashion_mnist
    y_true, y_pred = predictions
    figures = {  # each figure, with how many axes it has (colour bars included)
        "image": (plots.plot_image(x_train[0]), 2),
        "samples": (plots.plot_samples(x_train, y_train, CLASS_NAMES), 25),
        "history": (plots.plot_history(HISTORY), 2),
        "confusion": (plots.plot_confusion_matrix(y_true, y_pred, CLASS_NAMES), 2),
        "misclassified": (plots.plot_misclassified(x_test, y_true, y_pred, CLASS_NAMES), 18),
        "accuracy": (plots.plot_accuracy_vs_parameters([8070, 16418], [0.88, 0.9], ["4", "8"]), 1),
    }
    for name, (fig, axes) in figures.items():
        assert len(fig.axes) == axes, name
        pixels = plt_image.imread(io.BytesIO(_png(fig)))
        height, width = pixels.shape[:2]
        assert 300 <= width <= 1200, f"{name}: figures should fit a notebook's width"
        ink = _ink(pixels)
        assert ink.mean() > 0.02, f"{name} is blank"
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        for i, ax in enumerate(fig.axes):
            # something drawn inside the frame (a few pixels in, clear of the spines)
            box = ax.get_window_extent(renderer)
            inside = ink[
                round(height - box.y1) + 3 : round(height - box.y0) - 3,
                round(box.x0) + 3 : round(box.x1) - 3,
            ]
            assert inside.mean() > 0.003, f"{name}: axes {i} is empty"
            # titles, labels and tick labels within the picture, not cut off at its edge
            tight = ax.get_tightbbox(renderer)
            assert 0 <= tight.x0 and tight.x1 <= width and 0 <= tight.y0 and tight.y1 <= height, (
                f"{name}: axes {i} reaches outside the figure"
            )


def _figures_script():
    """tools/figures.py, which draws the documentation's figures into docs/images/."""
    spec = importlib.util.spec_from_file_location("figures", ROOT / "tools" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_figures_are_current_and_drawn_on(fashion_mnist, predictions):
    """docs/images/ holds each figure of tools/figures.py at the size the code draws it now
    (a figure whose size changed needs `python tools/figures.py`), and docs/students.md shows it."""
    script = _figures_script()
    (x_train, y_train), (x_test, _) = fashion_mnist
    y_true, y_pred = predictions
    figures = script.draw(HISTORY, x_train, y_train, x_test, y_true, y_pred)
    assert sorted(p.stem for p in script.OUT.glob("*.png")) == sorted(figures)
    page = (ROOT / "docs" / "students.md").read_text()
    for name, fig in figures.items():
        committed = (script.OUT / f"{name}.png").read_bytes()
        assert f"](images/{name}.png)" in page, f"docs/students.md does not show {name}.png"
        assert _png_size(committed) == _png_size(_png(fig, dpi=script.DPI)), (
            f"docs/images/{name}.png is stale: run `python tools/figures.py`"
        )
        assert _ink(plt_image.imread(io.BytesIO(committed))).mean() > 0.02, f"{name}.png is blank"


def test_confusion_matrix_labels_do_not_overlap(predictions):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    y_true, y_pred = predictions
    fig = plots.plot_confusion_matrix(y_true, y_pred, CLASS_NAMES)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        boxes = [label.get_window_extent(renderer) for label in labels]
        assert not any(a.overlaps(b) for a, b in pairwise(boxes))
        assert all(fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1) for b in boxes)
    title = ax.title.get_window_extent(renderer)
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1, "the title should fit the figure"
