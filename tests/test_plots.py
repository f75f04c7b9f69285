"""course_utils.plots: each figure's titles, axis labels and class names, headless."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plots
from course_utils.data import CLASS_NAMES


def _texts(fig: Figure) -> set[str]:
    return {t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
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
    history = {"accuracy": [0.8, 0.85, 0.87], "val_accuracy": [0.82, 0.84, 0.85],
               "loss": [0.6, 0.4, 0.35], "val_loss": [0.5, 0.45, 0.42]}
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
    assert titles == [f"true: {CLASS_NAMES[y_true[i]]}\npred: {CLASS_NAMES[y_pred[i]]}" for i in wrong]
    assert "6 of 2,000" in fig._suptitle.get_text()


def test_plot_accuracy_vs_parameters_uses_a_log_axis():
    fig = plots.plot_accuracy_vs_parameters([8070, 16418, 33978], [0.88, 0.9, 0.91],
                                            ["4 filters", "8 filters", "16 filters"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "parameters (log scale)" and ax.get_ylabel() == "test accuracy"
    assert [t.get_text() for t in ax.texts] == ["4 filters", "8 filters", "16 filters"]
    assert list(ax.get_lines()[0].get_xdata()) == [8070, 16418, 33978]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_every_figure_renders_to_a_png_of_its_size(fashion_mnist, predictions):
    (x_train, y_train), (x_test, _) = fashion_mnist
    y_true, y_pred = predictions
    history = {"accuracy": [0.8, 0.85], "val_accuracy": [0.82, 0.84], "loss": [0.6, 0.4], "val_loss": [0.5, 0.45]}
    figures = [
        plots.plot_image(x_train[0]),
        plots.plot_samples(x_train, y_train, CLASS_NAMES),
        plots.plot_history(history),
        plots.plot_confusion_matrix(y_true, y_pred, CLASS_NAMES),
        plots.plot_misclassified(x_test, y_true, y_pred, CLASS_NAMES),
        plots.plot_accuracy_vs_parameters([8070, 16418], [0.88, 0.9], ["4", "8"]),
    ]
    for fig in figures:
        width, height = _png_size(_png(fig))
        assert (width, height) == tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
        assert 300 <= width <= 1200, "figures should fit a notebook's width"


def test_confusion_matrix_labels_do_not_overlap(predictions):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    y_true, y_pred = predictions
    fig = plots.plot_confusion_matrix(y_true, y_pred, CLASS_NAMES)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        boxes = [label.get_window_extent(renderer) for label in labels]
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
        assert all(fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1) for b in boxes)
    title = ax.title.get_window_extent(renderer)
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1, "the title should fit the figure"
