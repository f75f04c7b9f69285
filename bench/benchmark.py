"""Benchmark: the kit against plain tools, in one run, figures side by side.

    python bench/benchmark.py                 # both parts, the lab's 10 epochs
    python bench/benchmark.py --part grading --epochs 3

Part 1, grading: the same 8 submissions of lab3_part2 (the reference, the untouched release
and six with one mistake each) graded by plain ``nbgrader autograde``, one after another, and
by ``python -m course_utils.grade`` (parallel workers, isolation, feedback included). Prints,
per submission and in all, wall time, CPU time and peak memory (largest process, the kernel
included), with the ratio kit / plain.

Part 2, the lab: the lab notebook (the student version with the solutions filled in) run end
to end, against a plain Keras version of the same lab written as people usually write it:
float64 arrays, default compile settings, the same model, batch size, epochs and validation
split. Both run as notebooks in a fresh kernel, from the same seed. Prints wall time, CPU time,
peak memory and test accuracy.

Part 3, the quiz's filter experiment as a student runs it (the solved quiz notebook, its own 3
epochs per network): as shipped, against the same notebook compiling with XLA (what it did
before); prints the experiment cell's time beside the 5-minute target.

Training length follows ``--epochs`` (the lab's 10 by default), passed to both sides through
LAB_EPOCHS (parts 1 and 2). The machine should be otherwise idle; figures vary by a few
percent between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' `support`

from course_utils.environment import tool_env  # noqa: E402
from support import LAB, Course, build_class  # noqa: E402

ASSIGNMENT = "lab3_part2"
WRONG = [
    "wrong_order",
    "no_normalisation",
    "wrong_learning_rate",
    "no_validation_split",
    "faked_accuracy",
    "transposed_confusion",
]


def measured(command: list[str], cwd: Path, env: dict) -> dict:
    """Run `command`; wall s, CPU s and peak RSS (MiB, largest process) from wait4."""
    start = time.monotonic()
    with open(cwd / "bench.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}); see {cwd / 'bench.log'}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024}


def environment(epochs: int) -> dict[str, str]:
    """This environment's tools first on PATH, training shortened to `epochs`."""
    return tool_env(LAB_EPOCHS=str(epochs), TF_CPP_MIN_LOG_LEVEL="2")


def row(name: str, values: list[str], widths: list[int]) -> str:
    return name.ljust(widths[0]) + "".join(
        v.rjust(w) for v, w in zip(values, widths[1:], strict=True)
    )


# --------------------------------------------------------------------------- part 1


def make_class(folder: Path) -> Course:
    """A course with the benchmark's 8 submissions of the lab."""
    folder.mkdir(parents=True)
    course = Course(folder, ASSIGNMENT)
    build_class(course, LAB, mistakes=WRONG)
    return course


def grading(epochs: int, workers: int, work: Path) -> None:
    from course_utils.grading.coordinator import grade_class
    from course_utils.grading.jobs import Limits

    env = environment(epochs)
    os.environ.update(env)
    plain = make_class(work / "plain")
    kit = make_class(work / "kit")
    students = sorted(p.parent.name for p in (plain.root / "submitted").glob(f"*/{ASSIGNMENT}"))
    print(
        f"\nGrading {len(students)} submissions of {ASSIGNMENT} ({epochs} epochs each)", flush=True
    )

    plain_rows, plain_start = {}, time.monotonic()
    for student in students:
        plain_rows[student] = measured(
            [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", student],
            plain.root,
            env,
        )
        print(f"  plain nbgrader: {student} {plain_rows[student]['wall']:.0f} s", flush=True)
    plain_wall = time.monotonic() - plain_start

    report = grade_class(
        kit.root,
        ASSIGNMENT,
        workers=workers,
        limits=Limits(),
        progress=False,
        log=lambda line: print("  kit:", line, flush=True),
    )
    if report.failed:
        raise SystemExit(f"the kit failed to grade: {report.failed}")
    if kit.scores() != plain.scores():
        raise SystemExit("the kit and plain nbgrader recorded different scores")
    kit_rows = {
        s: {"wall": o.wall, "cpu": o.cpu, "peak": o.peak_rss / 2**20}
        for s, o in report.outcomes.items()
    }

    widths = [22, 11, 11, 7, 11, 11, 7, 11, 11, 7]
    heads = [
        "wall plain",
        "wall kit",
        "ratio",
        "CPU plain",
        "CPU kit",
        "ratio",
        "peak plain",
        "peak kit",
        "ratio",
    ]
    print("\n" + row("submission", heads, widths))
    for s in students:
        p, k = plain_rows[s], kit_rows[s]
        print(
            row(
                s,
                [
                    f"{p['wall']:.1f} s",
                    f"{k['wall']:.1f} s",
                    f"{k['wall'] / p['wall']:.2f}",
                    f"{p['cpu']:.1f} s",
                    f"{k['cpu']:.1f} s",
                    f"{k['cpu'] / p['cpu']:.2f}",
                    f"{p['peak']:.0f} MiB",
                    f"{k['peak']:.0f} MiB",
                    f"{k['peak'] / p['peak']:.2f}",
                ],
                widths,
            )
        )
    n = len(students)
    p_cpu, k_cpu = (
        sum(r["cpu"] for r in plain_rows.values()),
        sum(r["cpu"] for r in kit_rows.values()),
    )
    p_peak, k_peak = (
        max(r["peak"] for r in plain_rows.values()),
        max(r["peak"] for r in kit_rows.values()),
    )
    print(
        row(
            "class, per submission",
            [
                f"{plain_wall / n:.1f} s",
                f"{report.wall / n:.1f} s",
                f"{report.wall / plain_wall:.2f}",
                f"{p_cpu / n:.1f} s",
                f"{k_cpu / n:.1f} s",
                f"{k_cpu / p_cpu:.2f}",
                f"{p_peak:.0f} MiB",
                f"{k_peak:.0f} MiB",
                f"{k_peak / p_peak:.2f}",
            ],
            widths,
        )
    )
    print(
        f"\nWhole class: plain nbgrader {plain_wall:.0f} s, kit {report.wall:.0f} s "
        f"with {workers} workers (wall per submission {report.wall / plain_wall:.2f}x; "
        "target <= 0.5x). Same scores in both gradebooks."
    )


# --------------------------------------------------------------------------- part 2

PLAIN_LAB = [
    ("markdown", "# Fashion-MNIST, plain Keras (benchmark baseline)"),
    (
        "code",
        """import os
import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

EPOCHS = int(os.environ.get("LAB_EPOCHS", "10"))
keras.utils.set_random_seed(int(os.environ.get("BENCH_SEED", "0")))
(train_images, train_labels), (test_images, test_labels) = (
    keras.datasets.fashion_mnist.load_data()
)""",
    ),
    (
        "code",
        """x_train = (train_images / 255.0).reshape(-1, 28, 28, 1)
x_test = (test_images / 255.0).reshape(-1, 28, 28, 1)
y_train = keras.utils.to_categorical(train_labels, 10).astype("float64")
y_test = keras.utils.to_categorical(test_labels, 10).astype("float64")
print(x_train.dtype, x_train.shape)""",
    ),
    (
        "code",
        """model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(4, (3, 3), padding="same"),
    keras.layers.BatchNormalization(),
    keras.layers.Activation("relu"),
    keras.layers.MaxPooling2D((2, 2), strides=(2, 2), padding="same"),
    keras.layers.Conv2D(4, (3, 3), padding="same"),
    keras.layers.BatchNormalization(),
    keras.layers.Activation("relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(10),
    keras.layers.Softmax(),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()""",
    ),
    (
        "code",
        """history = model.fit(
    x_train, y_train, batch_size=64, epochs=EPOCHS, validation_split=0.1
)""",
    ),
    (
        "code",
        """fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, key in zip(axes, ("loss", "accuracy")):
    ax.plot(history.history[key], label="training")
    ax.plot(history.history["val_" + key], label="validation")
    ax.set_title(key)
    ax.legend()
plt.show()""",
    ),
    (
        "code",
        """test_loss, test_accuracy = model.evaluate(x_test, y_test)
print("test accuracy", test_accuracy)""",
    ),
    (
        "code",
        """predicted = np.argmax(model.predict(x_test), axis=1)
cm = confusion_matrix(test_labels, predicted)
ConfusionMatrixDisplay(cm).plot()
plt.show()""",
    ),
]


def lab_notebook(folder: Path) -> Path:
    """The student version of the lab with the solutions filled in (no hidden tests)."""
    import nbformat

    (folder / "course").mkdir()
    course = Course(folder / "course", ASSIGNMENT)
    path = folder / "lab.ipynb"
    nbformat.write(course.solved(LAB.answers), path)
    return path


def plain_notebook(folder: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell(src) if kind == "code" else new_markdown_cell(src)
            for kind, src in PLAIN_LAB
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "plain.ipynb"
    nbformat.write(nb, path)
    return path


RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
resources = {"metadata": {"path": sys.argv[2]}}
NotebookClient(nb, timeout=3600, kernel_name="python3", resources=resources).execute()
nbformat.write(nb, sys.argv[1])
"""


def accuracy_of(path: Path) -> float:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith("Test accuracy:"):
                    return float(line.split(":")[1].strip().rstrip("%")) / 100
                if line.startswith("test accuracy"):
                    return float(line.split()[-1])
    raise SystemExit(f"no test accuracy printed in {path}")


def lab(epochs: int, work: Path) -> None:
    from course_utils.data import FILES, locate

    keras_home = work / "keras"
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True, exist_ok=True)
    for spec in FILES:  # plain Keras reads its own cache; the data is already on this machine
        shutil.copy(locate() / spec.filename, cache / spec.filename)
    # The lab fixes its seed (2024) when NBGRADER_EXECUTION is set; the plain version takes it
    # from BENCH_SEED: both start from the same weights.
    env = {
        **environment(epochs),
        "KERAS_HOME": str(keras_home),
        "BENCH_SEED": "2024",
        "NBGRADER_EXECUTION": "validate",
    }
    print(f"\nThe lab end to end ({epochs} epochs), against plain Keras", flush=True)
    results = {}
    for name, path in (("plain Keras", plain_notebook(work)), ("lab notebook", lab_notebook(work))):
        results[name] = measured(
            [sys.executable, "-c", RUN_NOTEBOOK, str(path), str(work)], work, env
        )
        results[name]["accuracy"] = accuracy_of(path)
        print(f"  {name}: {results[name]['wall']:.0f} s", flush=True)
    p, k = results["plain Keras"], results["lab notebook"]
    widths = [16, 14, 14, 10]
    print("\n" + row("", ["plain Keras", "lab notebook", "ratio"], widths))
    print(
        row(
            "wall time",
            [f"{p['wall']:.1f} s", f"{k['wall']:.1f} s", f"{k['wall'] / p['wall']:.2f}"],
            widths,
        )
    )
    print(
        row(
            "CPU time",
            [f"{p['cpu']:.1f} s", f"{k['cpu']:.1f} s", f"{k['cpu'] / p['cpu']:.2f}"],
            widths,
        )
    )
    print(
        row(
            "peak memory",
            [f"{p['peak']:.0f} MiB", f"{k['peak']:.0f} MiB", f"{k['peak'] / p['peak']:.2f}"],
            widths,
        )
    )
    diff = 100 * (k["accuracy"] - p["accuracy"])
    print(
        row(
            "test accuracy",
            [f"{p['accuracy']:.4f}", f"{k['accuracy']:.4f}", f"{diff:+.2f} pt"],
            widths,
        )
    )
    # What the data costs, from the arrays' shapes and types: the training and test images as
    # given to Keras (float64 in the plain version, float32 in the lab).
    images = 70_000 * 28 * 28
    plain_bytes, lab_bytes = images * 8, images * 4
    print(
        row(
            "input arrays",
            [
                f"{plain_bytes / 2**20:.0f} MiB",
                f"{lab_bytes / 2**20:.0f} MiB",
                f"{lab_bytes / plain_bytes:.2f}",
            ],
            widths,
        )
    )
    print("(targets: wall <= 0.5x, peak memory <= 0.6x, accuracy within 0.5 points)")


# --------------------------------------------------------------------------- part 3

QUIZ_TARGET_S = 300


def cell_seconds(path: Path, grade_id: str) -> float:
    """How long cell `grade_id` of an executed notebook ran, from its execution metadata."""
    import datetime

    import nbformat

    from support import cell

    timing = cell(nbformat.read(path, as_version=4), grade_id).metadata["execution"]
    start, end = (
        datetime.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
        for key in ("iopub.execute_input", "shell.execute_reply")
    )
    return (end - start).total_seconds()


def quiz(work: Path) -> None:
    import nbformat

    from support import QUIZ, mutate

    (work / "course").mkdir()
    course = Course(work / "course", "lab3_quiz")
    shipped = course.solved(QUIZ.answers)
    with_xla = mutate(
        shipped,
        "sweep",
        "compile_model(build_model(num_filters), jit_compile=False)",
        "compile_model(build_model(num_filters))",
    )
    env = tool_env(TF_CPP_MIN_LOG_LEVEL="2", NBGRADER_EXECUTION="validate")
    env.pop("LAB_EPOCHS", None)  # the quiz's own 3 epochs per network
    print("\nThe quiz's filter experiment (4 networks, 3 epochs each)", flush=True)
    seconds = {}
    for name, nb in (("with XLA (before)", with_xla), ("as shipped", shipped)):
        path = work / f"quiz-{len(seconds)}.ipynb"
        nbformat.write(nb, path)
        whole = measured([sys.executable, "-c", RUN_NOTEBOOK, str(path), str(work)], work, env)
        seconds[name] = (cell_seconds(path, "sweep"), whole["wall"])
        print(f"  {name}: experiment {seconds[name][0]:.0f} s", flush=True)
    (before, before_all), (now, now_all) = seconds.values()
    widths = [22, 18, 14, 10, 12]
    print("\n" + row("", ["with XLA (before)", "as shipped", "ratio", "target"], widths))
    print(
        row(
            "experiment cell",
            [f"{before:.0f} s", f"{now:.0f} s", f"{now / before:.2f}", f"<= {QUIZ_TARGET_S} s"],
            widths,
        )
    )
    print(
        row(
            "whole notebook",
            [f"{before_all:.0f} s", f"{now_all:.0f} s", f"{now_all / before_all:.2f}", ""],
            widths,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["grading", "lab", "quiz", "all"], default="all")
    parser.add_argument(
        "--epochs", type=int, default=10, help="training epochs (the lab's 10 by default)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="the kit's workers"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="course-kit-bench-") as tmp:
        work = Path(tmp)
        if args.part in ("grading", "all"):
            grading(args.epochs, args.workers, work / "grading")
        if args.part in ("lab", "all"):
            (work / "lab").mkdir()
            lab(args.epochs, work / "lab")
        if args.part in ("quiz", "all"):
            (work / "quiz").mkdir()
            quiz(work / "quiz")


if __name__ == "__main__":
    main()
