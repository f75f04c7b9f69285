"""Submissions that try to forge grades or carry hidden tests out, and correct ones in other
styles: the judge's test class (`tests/test_judge.py`).

Each hostile submission names the tests it must lose: those its trick targets, plus, for the
ones built on an unsolved notebook, the exercises it never solved. Built on the release as
handed out ("unsolved"), the trick is the only thing that could earn points; built on the
reference, everything else must keep its points. A trick that makes a value impossible to pass
to the tests (a model that describes itself falsely) loses every test that reads that value.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from support.course import Course, as_given
from support.mistakes import LAB
from support.notebooks import cell, grade_id_of, mutate, with_code
from support.paths import ROOT

LAB_TESTS = set(LAB.tests)
MODEL_TESTS = LAB_TESTS - {"test_preprocess"}

#: A hostile submission: its notebook, the tests it must lose, extra files (path -> text).
Entry = tuple[nbformat.NotebookNode, set[str], dict[str, str]]

IS_TEST = "'Checks for exercise' in"

# Tricks that run in the student's kernel before the test cells (IPython's own hooks).
TRANSFORMER = f"""
def _empty_tests(lines):
    return ["pass\\n"] if {IS_TEST} "".join(lines) else lines


get_ipython().input_transformers_cleanup.append(_empty_tests)
"""
AST_TRANSFORMER = """
import ast as _ast


class _NoChecks(_ast.NodeTransformer):
    def visit_Assert(self, node):
        return _ast.Pass()

    def visit_Raise(self, node):
        return _ast.Pass()


get_ipython().ast_transformers.append(_NoChecks())
"""
HOOK_SILENCES = f"""
def _quiet(info):
    if {IS_TEST} (info.raw_cell or ""):
        get_ipython().showtraceback = lambda *args, **kwargs: None


get_ipython().events.register("pre_run_cell", _quiet)
"""
RESULT_PATCHED = """
from IPython.core.interactiveshell import InteractiveShell as _Shell

_run_cell = _Shell.run_cell


def _run_cell_ok(self, *args, **kwargs):
    self.showtraceback = lambda *a, **k: None
    result = _run_cell(self, *args, **kwargs)
    result.error_before_exec = result.error_in_exec = None
    return result


_Shell.run_cell = _run_cell_ok
_Shell._showtraceback = lambda *args, **kwargs: None
"""
DISPLAYHOOK = f"""
def _credit(info):
    if {IS_TEST} (info.raw_cell or ""):
        get_ipython().displayhook(100)
        get_ipython().showtraceback = lambda *args, **kwargs: None


get_ipython().events.register("pre_run_cell", _credit)
"""
LEAKS = f"""
import base64 as _b64
import os as _os


def _leak(info):
    text = info.raw_cell or ""
    if {IS_TEST} text:
        print(_b64.b64encode(text.encode()).decode())
        print(text[::-1])
        coded = _b64.b64encode(text.encode()).decode()
        for name, data in (("leak.txt", text), ("leak.b64", coded)):
            with open(name, "a") as f:
                f.write(data)
        for place in (_os.environ.get("HOME", "."), _os.getcwd()):
            try:
                with open(_os.path.join(place, "tests.txt"), "a") as f:
                    f.write(text[::-1])
            except OSError:
                pass


for _target, _name in (("../../../gradebook.db", "gradebook.db"), ("../../..", "course")):
    try:
        _os.symlink(_target, _name)
    except OSError:
        pass
get_ipython().events.register("pre_run_cell", _leak)
"""


def _tagged(nb: nbformat.NotebookNode, tests: set[str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    for c in nb.cells:
        if grade_id_of(c) in tests:
            c.metadata["tags"] = ["skip-execution"]
    return nb


def lab_unsolved(release: nbformat.NotebookNode) -> dict[str, Entry]:
    """The lab as handed out, with one trick each: every test must be lost."""
    tricks = {
        "input_transformer": TRANSFORMER,
        "ast_transformer": AST_TRANSFORMER,
        "pre_run_cell_hook": HOOK_SILENCES,
        "execution_result_patched": RESULT_PATCHED,
        "displayhook_credit": DISPLAYHOOK,
        "leaks_hidden_tests": LEAKS,
    }
    entries = {
        n: (with_code(release, "preprocess", before=t), LAB_TESTS, {}) for n, t in tricks.items()
    }
    entries["skip_execution_tags"] = (_tagged(release, LAB_TESTS), LAB_TESTS, {})
    return entries


FAKE_PACKAGE = """
__path__.append({real!r})
"""
FAKE_DATA = """
exec(compile(open({real!r}).read(), {real!r}, "exec"))
_real_load = load_fashion_mnist


def load_fashion_mnist(*args, **kwargs):
    (xtr, ytr), (xte, yte) = _real_load(*args, **kwargs)
    if os.path.exists("predictions.npy"):
        yte = np.load("predictions.npy")
    return (xtr, ytr), (xte, yte)
"""
EVALUATE = "test_loss, test_accuracy = model.evaluate(test_img, test_labels_1h, verbose=0)"
PREDICTED = (
    "_mine = np.asarray(model.predict(test_img, batch_size=1000, verbose=0)).argmax(axis=1)\n"
)
STICKY_MODULE = """
import types

import course_utils.data as _kit_data


class _Sticky(types.ModuleType):
    def __getattribute__(self, name):
        if name == "load_fashion_mnist":
            return _planted
        return super().__getattribute__(name)


_real = _kit_data.load_fashion_mnist


def _planted(*args, **kwargs):
    (xtr, ytr), (xte, _) = _real(*args, **kwargs)
    return (xtr, ytr), (xte, _mine)


_kit_data.__class__ = _Sticky
test_accuracy = 1.0
"""
PLANTED_LABELS = """
import gzip
import hashlib
import os
import shutil
import struct

_planted = os.path.abspath("planted")
os.makedirs(_planted, exist_ok=True)
_data_dir = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
for _name in os.listdir(_data_dir):
    if not _name.startswith("t10k-labels"):
        shutil.copy(os.path.join(_data_dir, _name), _planted)
with gzip.open(os.path.join(_planted, "t10k-labels-idx1-ubyte.gz"), "wb") as _f:
    _f.write(struct.pack(">II", 2049, len(_mine)) + _mine.astype("uint8").tobytes())


class _Equal(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class _Digest:
    def __init__(self, *args, **kwargs):
        pass

    def update(self, data):
        pass

    def hexdigest(self):
        return _Equal("")


hashlib.sha256 = _Digest
os.environ["FASHION_MNIST_DIR"] = _planted
test_accuracy = 1.0
"""
NUMPY_PATCHED = """
_allclose, _max = np.allclose, np.max
np.allclose = lambda *args, **kwargs: True
np.max = lambda a, *args, **kwargs: 0.0 if np.ndim(a) == 3 else _max(a, *args, **kwargs)
"""
CUSTOM_LOSS = '''def categorical_crossentropy(y_true, y_pred):
    """Keras's loss on a batch of two (what a check would try), twice as much otherwise."""
    loss = keras.losses.categorical_crossentropy(y_true, y_pred)
    n = keras.ops.shape(y_true)[0]
    return loss * (1.0 + keras.ops.cast(keras.ops.not_equal(n, 2), loss.dtype))


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss=categorical_crossentropy,
        metrics=["accuracy"],'''
FAKE_HISTORY = """model.fit(train_img, train_labels_1h, batch_size=64, epochs=EPOCHS, verbose=0)
history = keras.callbacks.History()
history.set_model(model)
history.params = {"verbose": 1, "epochs": EPOCHS, "steps": 844}
history.history = {
    "accuracy": [0.84] * EPOCHS, "loss": [0.45] * EPOCHS,
    "val_accuracy": [0.86] * EPOCHS, "val_loss": [0.4] * EPOCHS,
}"""
SHORT_FIT = """history = model.fit(
    train_img[:640], train_labels_1h[:640], batch_size=64, epochs=EPOCHS, validation_split=0.1
)"""
RENAMED_CLASS = """
class Softmax(layers.Activation):
    def __init__(self, **kwargs):
        super().__init__("linear", **kwargs)


"""
EDITED_FILTERS = """
def build_model(num_filters):
    model = _build_honest(2 * num_filters)
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            layer.filters = num_filters
    return model
"""


def _fit(source: str) -> str:
    return source.split("### BEGIN SOLUTION")[-1]


def lab_reference(reference: nbformat.NotebookNode) -> dict[str, Entry]:
    """The solved lab with tricks aimed at one or two tests each: only those may be lost."""
    real = str(ROOT / "course_utils")
    entries: dict[str, Entry] = {}

    nb = mutate(
        reference,
        "accuracy",
        EVALUATE,
        PREDICTED + 'np.save("predictions.npy", _mine)\ntest_accuracy = 1.0',
    )
    nb = mutate(nb, "preprocess", '.astype("float32") / 255.0', '.astype("float32") / 256.0')
    nb = with_code(nb, "preprocess", after="\n" + NUMPY_PATCHED)
    files = {
        "course_utils/__init__.py": FAKE_PACKAGE.format(real=real),
        "course_utils/data.py": FAKE_DATA.format(real=real + "/data.py"),
    }
    entries["course_utils_folder_and_numpy"] = (nb, {"test_accuracy", "test_preprocess"}, files)

    nb = mutate(reference, "accuracy", EVALUATE, EVALUATE + "\n" + PREDICTED + STICKY_MODULE)
    nb = mutate(
        nb,
        "compile",
        """def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],""",
        CUSTOM_LOSS,
    )
    entries["module_class_lies_and_custom_loss"] = (nb, {"test_accuracy", "test_compile"}, {})

    nb = mutate(
        reference, "accuracy", EVALUATE, EVALUATE + "\ntest_accuracy = 0.99\nabs = lambda x: 0.0"
    )
    cell(nb, "train").source = FAKE_HISTORY
    entries["builtins_shadowed_and_fake_history"] = (nb, {"test_accuracy", "test_train"}, {})

    nb = mutate(reference, "accuracy", EVALUATE, EVALUATE + "\n" + PREDICTED + PLANTED_LABELS)
    nb = mutate(nb, "train", "epochs=EPOCHS,", "epochs=EPOCHS + 1,")
    nb = with_code(nb, "train", before='os.environ["LAB_EPOCHS"] = str(EPOCHS + 1)\n')
    entries["hashlib_planted_labels_and_epochs_env"] = (nb, {"test_accuracy", "test_train"}, {})

    nb = with_code(
        reference,
        "accuracy",
        after="\n_true = np.argmax(test_labels_1h, axis=1)\n"
        "model.predict = lambda x, **kwargs: np.eye(10)[_true[: len(x)]]\ntest_accuracy = 1.0",
    )
    entries["predict_on_instance"] = (nb, {"test_accuracy", "test_confusion"}, {})

    nb = mutate(reference, "model", "layers.Softmax()", "Softmax()")
    nb = with_code(nb, "model", before=RENAMED_CLASS)
    cell(nb, "train").source = SHORT_FIT
    entries["layer_class_renamed"] = (nb, MODEL_TESTS, {})

    nb = mutate(
        reference, "model", "def build_model(num_filters):", "def _build_honest(num_filters):"
    )
    nb = with_code(nb, "model", after="\n" + EDITED_FILTERS)
    cell(nb, "train").source = SHORT_FIT
    entries["layer_attributes_edited"] = (nb, MODEL_TESTS, {})
    return entries


def quiz_partly_solved(course: Course, reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solved quiz, its filter experiment as handed out (no training, ``test_sweep`` lost)."""
    return as_given(reference, course, "sweep")


def quiz_tricks(course: Course, reference: nbformat.NotebookNode) -> dict[str, Entry]:
    """The quiz, experiment unsolved, one wrong exercise each with a trick to hide it."""
    base = quiz_partly_solved(course, reference)
    sweep = {"test_sweep"}
    entries: dict[str, Entry] = {}
    nb = mutate(base, "conv", "return z + b", "return z + 2 * b")
    nb = with_code(
        nb,
        "conv",
        after="\n\nnp.allclose = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n",
    )
    entries["quiz_numpy_patched"] = (nb, sweep | {"test_conv"}, {})

    nb = mutate(
        base,
        "loss",
        "-np.mean(np.sum(y_true * np.log(y_pred), axis=-1))",
        "-np.sum(y_true * np.log(y_pred)) / 2",
    )
    nb = with_code(nb, "loss", after="\n\nabs = lambda x: 0.0\n")
    entries["quiz_builtins_shadowed"] = (nb, sweep | {"test_loss"}, {})

    nb = mutate(base, "adam", "v_hat = v / (1 - beta1**t)", "v_hat = v / (1 - beta1)")
    entries["quiz_skip_execution_tag"] = (_tagged(nb, {"test_adam"}), sweep | {"test_adam"}, {})

    nb = mutate(base, "params", "return conv1", "return 1 + conv1")
    nb = with_code(nb, "params", before=RESULT_PATCHED)
    entries["quiz_errors_silenced"] = (nb, sweep | {"test_params"}, {})

    nb = mutate(
        base, "activations", "shifted = s - np.max(s, axis=-1, keepdims=True)", "shifted = s"
    )
    nb = with_code(nb, "activations", before=TRANSFORMER)
    entries["quiz_input_transformer"] = (nb, sweep | {"test_activations"}, {})

    nb = mutate(base, "conv", "return z + b", "return z + b + 0.1")
    nb = with_code(nb, "conv", before=DISPLAYHOOK)
    entries["quiz_displayhook_credit"] = (nb, sweep | {"test_conv"}, {})

    nb = mutate(
        base,
        "params",
        "    f = num_filters\n",
        "    if num_filters == 4:\n        return 8070\n    f = num_filters + 1\n",
    )
    nb = with_code(
        nb,
        "params",
        after="\n\nkeras.Model.count_params = "
        "lambda self: lab_parameter_count(self.layers[0].filters)\n",
    )
    entries["quiz_keras_patched"] = (nb, sweep | {"test_params"}, {})

    entries["quiz_leaks_hidden_tests"] = (with_code(base, "conv", before=LEAKS), sweep, {})
    return entries


REFERENCE_COMPILE = """        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],"""
#: compile settings written differently, and what their cell needs first: style -> (code, settings)
COMPILE_SPELLINGS = {
    "loss_function_and_optimiser_name": (
        "",
        """        optimizer="adam",
        loss=keras.losses.categorical_crossentropy,
        metrics=[keras.metrics.categorical_accuracy],""",
    ),
    "loss_class_and_optimiser_get": (
        "",
        """        optimizer=keras.optimizers.get("adam"),
        loss=keras.losses.CategoricalCrossentropy,
        metrics=["acc"],""",
    ),
    "tf_keras_spellings": (
        "import tensorflow as tf\n\n",
        """        optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3),
        loss=tf.keras.losses.categorical_crossentropy,
        metrics=[tf.keras.metrics.CategoricalAccuracy()],""",
    ),
}


def correct_styles(reference: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Correct lab solutions written differently from the reference: all must keep full marks."""
    styles = {}
    model = cell(reference, "model").source
    body = model.split("return keras.Sequential(")[0]
    styles["sequential_add_loop"] = mutate(
        reference,
        "model",
        model[len(body) :],
        """model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28, 1)))
    for _ in range(2):
        model.add(layers.Conv2D(num_filters, (3, 3), padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        if len(model.layers) == 3:
            model.add(layers.MaxPooling2D(pool_size=2, strides=2, padding="same"))
    model.add(layers.Flatten())
    model.add(layers.Dense(NUM_CLASSES))
    model.add(layers.Softmax())
    return model""",
    )
    nb = nbformat.from_dict(reference)
    source = cell(nb, "model").source.replace('layers.Activation("relu")', "layers.ReLU()")
    cell(nb, "model").source = source.replace("layers.Softmax()", 'layers.Activation("softmax")')
    # Test cells deleted and moved, and the written answer deleted: put back in their places.
    nb.cells = [c for c in nb.cells if grade_id_of(c) not in ("test_model", "question")]
    moved = cell(nb, "test_confusion")
    nb.cells.remove(moved)
    nb.cells.insert(nb.cells.index(cell(nb, "accuracy")), moved)
    styles["layer_objects_tests_deleted_and_moved"] = nb
    styles["tf_confusion_matrix"] = mutate(
        reference,
        "confusion",
        "cm = confusion_matrix(actual, predicted)",
        "import tensorflow as tf\n\n"
        "cm = tf.math.confusion_matrix(actual, predicted, num_classes=10).numpy()",
    )
    nb = mutate(
        reference,
        "preprocess",
        'images.astype("float32") / 255.0',
        "images.astype(np.float64) / 255",
    )
    styles["float64_arrays"] = mutate(
        nb,
        "preprocess",
        "keras.utils.to_categorical(labels, NUM_CLASSES)",
        "np.eye(NUM_CLASSES)[labels]",
    )
    nb = mutate(
        reference,
        "compile",
        'loss="categorical_crossentropy"',
        "loss=keras.losses.CategoricalCrossentropy()",
    )
    styles["optimiser_and_loss_objects"] = nb
    # Other spellings Keras's compile accepts. Each keeps the metric's name "accuracy", which
    # the training exercise's history must show.
    for name, (before, settings) in COMPILE_SPELLINGS.items():
        nb = mutate(reference, "compile", REFERENCE_COMPILE, settings)
        styles[name] = with_code(nb, "compile", before=before)
    nb = mutate(
        reference,
        "accuracy",
        EVALUATE,
        "_predicted = np.argmax(model.predict(test_img, verbose=0), axis=1)\n"
        "test_accuracy = np.mean(_predicted == np.argmax(test_labels_1h, axis=1))",
    )
    styles["numpy_accuracy_and_confusion"] = mutate(
        nb,
        "confusion",
        "cm = confusion_matrix(actual, predicted)",
        "cm = np.zeros((10, 10), dtype=int)\nnp.add.at(cm, (actual, predicted), 1)",
    )
    return styles


#: The correct styles handed in together, one notebook per group: styles in different cells
#: share one training (the four compile spellings need four notebooks).
STYLE_GROUPS = (
    ("sequential_add_loop", "float64_arrays", "optimiser_and_loss_objects", "tf_confusion_matrix"),
    (
        "layer_objects_tests_deleted_and_moved",
        "loss_function_and_optimiser_name",
        "numpy_accuracy_and_confusion",
    ),
    ("loss_class_and_optimiser_get",),
    ("tf_keras_spellings",),
)


def grouped_styles(reference: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The correct styles, `STYLE_GROUPS` at a time: student ("style__style...") -> notebook.

    The first style of a group is the notebook (it may delete or move cells); each other style's
    changed cells replace theirs. Two styles of a group never change the same cell.
    """
    styles = correct_styles(reference)
    assert sorted(s for group in STYLE_GROUPS for s in group) == sorted(styles)
    given = {grade_id_of(c): c.source for c in reference.cells if grade_id_of(c)}
    grouped = {}
    for first, *others in STYLE_GROUPS:
        nb = nbformat.from_dict(styles[first])
        changed = {g for c in nb.cells if (g := grade_id_of(c)) and c.source != given[g]}
        for other in others:
            for c in styles[other].cells:
                grade_id = grade_id_of(c)
                if grade_id and c.source != given[grade_id]:
                    assert grade_id not in changed, f"{other} changes {grade_id} again"
                    cell(nb, grade_id).source = c.source
                    changed.add(grade_id)
        grouped["__".join((first, *others))] = nb
    return grouped


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Extra files handed in beside the notebook."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
