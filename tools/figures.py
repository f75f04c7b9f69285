"""Draw the lab's figures from a real training run into docs/images/ (shown in the README).

Usage: python tools/figures.py [--epochs 10] [--seed 2024]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    import keras
    import numpy as np

    from course_utils import model as lab
    from course_utils import plots
    from course_utils.data import CLASS_NAMES, load_fashion_mnist, preprocess

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    keras.utils.set_random_seed(args.seed)
    net = lab.compile_model(lab.build_model(4))
    history = net.fit(*preprocess(x_train, y_train), batch_size=lab.BATCH_SIZE, epochs=args.epochs,
                      validation_split=lab.VALIDATION_SPLIT, verbose=2)
    predicted = net.predict(preprocess(x_test, y_test)[0], verbose=0).argmax(axis=1)
    print(f"test accuracy: {np.mean(predicted == y_test):.4f}")

    OUT.mkdir(parents=True, exist_ok=True)
    figures = {
        "samples": plots.plot_samples(x_train, y_train, CLASS_NAMES),
        "learning-curves": plots.plot_history(history),
        "confusion-matrix": plots.plot_confusion_matrix(y_test, predicted, CLASS_NAMES),
        "confusion-matrix-by-true-class": plots.plot_confusion_matrix(
            y_test, predicted, CLASS_NAMES, normalize="true"),
        "misclassified": plots.plot_misclassified(x_test, y_test, predicted, CLASS_NAMES),
    }
    for name, fig in figures.items():
        fig.savefig(OUT / f"{name}.png", dpi=80)
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
