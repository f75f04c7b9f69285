"""Draw the lab's figures from a real training run into docs/images/ (shown in docs/students.md).

Usage: python tools/figures.py [--epochs 10] [--seed 2024]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from course_utils.environment import REPO

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Where the documentation's figures are written, one PNG per name of `draw`.
OUT = REPO / "docs" / "images"
#: Their resolution: a 10-inch-wide figure is 800 pixels wide.
DPI = 80


def draw(
    history: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    predicted: np.ndarray,
) -> dict[str, Any]:
    """The documentation's figures, by file name without ``.png``.

    Args:
        history: what ``model.fit`` returned (or its ``.history`` dict).
        x_train, y_train, x_test, y_test: the data set, raw images and integer labels.
        predicted: the model's class for each test image.
    """
    from course_utils import plots
    from course_utils.data import CLASS_NAMES

    return {
        "samples": plots.plot_samples(x_train, y_train, CLASS_NAMES),
        "learning-curves": plots.plot_history(history),
        "confusion-matrix": plots.plot_confusion_matrix(y_test, predicted, CLASS_NAMES),
        "confusion-matrix-by-true-class": plots.plot_confusion_matrix(
            y_test, predicted, CLASS_NAMES, normalize="true"
        ),
        "misclassified": plots.plot_misclassified(x_test, y_test, predicted, CLASS_NAMES),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    import keras

    from course_utils import model as lab
    from course_utils.data import load_fashion_mnist, preprocess

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    keras.utils.set_random_seed(args.seed)
    net = lab.compile_model(lab.build_model(4))
    history = net.fit(
        *preprocess(x_train, y_train),
        batch_size=lab.BATCH_SIZE,
        epochs=args.epochs,
        validation_split=lab.VALIDATION_SPLIT,
        verbose=2,
    )
    predicted = net.predict(preprocess(x_test, y_test)[0], verbose=0).argmax(axis=1)
    print(f"test accuracy: {np.mean(predicted == y_test):.4f}")

    OUT.mkdir(parents=True, exist_ok=True)
    for name, fig in draw(history, x_train, y_train, x_test, y_test, predicted).items():
        fig.savefig(OUT / f"{name}.png", dpi=DPI)
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
