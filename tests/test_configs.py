"""Models across the bridge, in one process: every spelling of compile settings that Keras
accepts is rebuilt as Keras's own compile makes it, and what a hostile notebook could describe
(huge layers, code, files, foreign modules, deep nesting, lying array files) is refused with a
message naming it, before anything large is built or read.

The notebook's side (`bridge_kernel`, its source run as the judge sends it) writes the answers
into a folder; the judge's side (`wire.Answer`, `values.decode`) reads them back.
"""

from __future__ import annotations

import json
import math
import re
import resource
import sys
import time
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf

from course_utils.grading import configs, rebuild, values
from course_utils.grading.bridge import StudentKernel
from course_utils.grading.wire import Answer, Refused, RefusedArray
from course_utils.model import build_model
from support import ROOT
from support import hostile as h
from support.notebooks import cell

SOURCE = ROOT / "source" / "lab3_part2" / "lab3_part2.ipynb"
BRIDGE_KERNEL = (ROOT / "course_utils" / "grading" / "bridge_kernel.py").read_text()
UNCOMPILED = "passed to the tests uncompiled"


class Notebook:
    """The student's side of the bridge, in this process: its names, and the bridge's code."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0
        self.names = vars(sys.modules["__main__"])
        self.bridge = {"__name__": "course_kit_bridge"}
        exec(BRIDGE_KERNEL, self.bridge)  # as the judge runs it in the student's kernel

    def serve(self, request: dict) -> tuple[dict, Answer]:
        self.bridge["serve"]({**request, "folder": str(self.folder)})
        answer = Answer(self.folder, request["id"])
        return answer.manifest(), answer

    def get(self, **named):
        """The values `named`, as the judge receives them (a note per failure, as it shows)."""
        self.count += 1
        rid = f"r{self.count}"
        for name, value in named.items():
            self.names[f"_bridged_{name}"] = value
        try:
            wanted = [f"_bridged_{name}" for name in named]
            manifest, answer = self.serve({"op": "get", "id": rid, "names": wanted})
        finally:
            for name in named:
                self.names.pop(f"_bridged_{name}", None)
        got = {}
        for name in named:
            try:
                got[name] = values.decode(manifest["values"][f"_bridged_{name}"], answer, None, {})
            except Refused as error:
                got[name] = error
        answer.remove()
        return got


class InProcessKernel(StudentKernel):
    """A `StudentKernel` whose requests run `serve` in this process instead of a kernel."""

    def __init__(self, notebook: Notebook, outbox: Path):
        self.notebook, self.outbox, self.inbox, self.count = notebook, outbox, notebook.folder, 0

    def request(self, op: str, rid: str = "", **fields):
        return self.notebook.serve({"op": op, "id": rid or self.next_id(), **fields})


@pytest.fixture
def notebook(tmp_path):
    (tmp_path / "in").mkdir()
    values.NOTES.clear()
    yield Notebook(tmp_path / "in")
    values.NOTES.clear()


def rebuilt(notebook: Notebook, model):
    """`model` as the judge rebuilds it (refusals raise)."""
    value = notebook.get(model=model)["model"]
    if isinstance(value, Exception):
        raise value
    return value


def small_network() -> keras.Model:
    return keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Softmax()]
    )


BATCH = (np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4), np.eye(3, dtype="float32")[[0, 2]])

LOSSES = {
    "name": "categorical_crossentropy",
    "class_name": "CategoricalCrossentropy",
    "function": keras.losses.categorical_crossentropy,
    "instance": keras.losses.CategoricalCrossentropy(),
    "class": keras.losses.CategoricalCrossentropy,
    "tf_function": tf.keras.losses.categorical_crossentropy,
}
OPTIMISERS = {
    "name": lambda: "adam",
    "class_name": lambda: "Adam",
    "instance": lambda: keras.optimizers.Adam(learning_rate=0.001),
    "get": lambda: keras.optimizers.get("adam"),
    "tf_instance": lambda: tf.keras.optimizers.Adam(),
    "schedule": lambda: keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.001, decay_steps=10, decay_rate=0.5)
    ),
}
METRICS = {
    "accuracy": lambda: ["accuracy"],
    "acc": lambda: ["acc"],
    "categorical_accuracy": lambda: ["categorical_accuracy"],
    "instance": lambda: [keras.metrics.CategoricalAccuracy()],
    "class": lambda: [keras.metrics.CategoricalAccuracy],
    "function": lambda: [keras.metrics.categorical_accuracy],
    "dict": lambda: {"out": ["accuracy", keras.metrics.categorical_accuracy]},
}
# Each spelling of each argument at least once, the three arguments' spellings mixed.
COMBINATIONS = [
    (loss, list(OPTIMISERS)[i % len(OPTIMISERS)], list(METRICS)[i % len(METRICS)])
    for i, loss in enumerate([*LOSSES, *list(LOSSES)[:1]])
] + [
    ("function", "name", "function"),
    ("class", "get", "acc"),
    ("tf_function", "tf_instance", "class"),
]


@pytest.mark.parametrize(("loss", "optimiser", "metrics"), COMBINATIONS)
def test_every_keras_spelling_is_rebuilt_as_keras_compiles_it(notebook, loss, optimiser, metrics):
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Softmax(name="out")]
    )
    model.compile(optimizer=OPTIMISERS[optimiser](), loss=LOSSES[loss], metrics=METRICS[metrics]())
    model.fit(*BATCH, epochs=2, verbose=0)
    judged = rebuilt(notebook, model)
    assert values.NOTES == [] and judged.compiled
    assert type(judged.optimizer) is type(model.optimizer) is keras.optimizers.Adam
    assert (
        judged.optimizer.get_config()["learning_rate"]
        == model.optimizer.get_config()["learning_rate"]
    )
    want = model.evaluate(*BATCH, verbose=0, return_dict=True)
    got = judged.evaluate(*BATCH, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    assert all(math.isclose(got[k], want[k], rel_tol=1e-6, abs_tol=1e-7) for k in want), (got, want)


def test_a_function_of_the_notebook_leaves_the_model_uncompiled(notebook):
    def categorical_crossentropy(y_true, y_pred):  # Keras's name, the notebook's function
        return 2.0 * keras.losses.categorical_crossentropy(y_true, y_pred)

    categorical_crossentropy.__module__ = "__main__"  # as a notebook cell defines it
    model = small_network()
    model.compile(optimizer="adam", loss=categorical_crossentropy, metrics=["accuracy"])
    judged = rebuilt(notebook, model)
    assert not judged.compiled
    [note] = values.NOTES
    assert UNCOMPILED in note and "__main__.categorical_crossentropy" in note, note
    assert "Keras's own" in note
    assert np.allclose(judged.predict(BATCH[0], verbose=0), model.predict(BATCH[0], verbose=0))


def test_settings_the_notebook_cannot_describe_lose_only_the_compiling(notebook):
    import functools

    smoothed = functools.partial(keras.losses.categorical_crossentropy, label_smoothing=0.1)
    model = small_network()
    model.compile(optimizer="adam", loss=smoothed)
    got = notebook.get(model=model, other=np.arange(3))
    assert not got["model"].compiled and got["other"].tolist() == [0, 1, 2]
    [note] = values.NOTES
    assert UNCOMPILED in note and "could not describe" in note


def test_a_value_that_fails_to_encode_loses_no_other_name(notebook):
    model = small_network()
    model.to_json = lambda: 1 / 0
    got = notebook.get(broken=model, fine={"a": 1.5})
    assert got["fine"] == {"a": 1.5}
    assert isinstance(got["broken"], Refused) and "ZeroDivisionError" in str(got["broken"])


def reference_network() -> keras.Model:
    """The lab's network, from the source notebook's solution."""
    names = {"keras": keras, "layers": keras.layers, "NUM_CLASSES": 10}
    exec(cell(nbformat.read(SOURCE, as_version=4), "model").source, names)
    return names["build_model"](names["num_filters"])


@pytest.mark.parametrize("network", ["lab", "quiz_widest", "functional"])
def test_the_course_networks_pass_unchanged(notebook, network):
    if network == "lab":
        model = reference_network()
        assert model.count_params() == 8070
    elif network == "quiz_widest":
        model = build_model(64)
    else:
        inputs = keras.Input(shape=(28, 28, 1))
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Flatten()(x)
        outputs = keras.layers.Dense(10, activation="softmax", kernel_regularizer="l2")(x)
        model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    judged = rebuilt(notebook, model)
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")
    assert values.NOTES == [] and judged.compiled
    assert judged.count_params() == model.count_params()
    assert [type(x).__name__ for x in judged.layers] == [type(x).__name__ for x in model.layers]
    assert np.allclose(judged.predict(images, verbose=0), model.predict(images, verbose=0))


def test_the_allow_list_is_keras_own_serialisation():
    from keras.src import api_export

    allowed = configs.allowed_classes()
    for pair in [
        ("keras.layers", "Dense"),
        ("keras.layers", "Conv2D"),
        ("keras", "Sequential"),
        ("keras", "DTypePolicy"),
        ("keras.optimizers", "Adam"),
        ("keras.optimizers.schedules", "ExponentialDecay"),
        ("keras.losses", "CategoricalCrossentropy"),
        ("keras.metrics", "CategoricalAccuracy"),
        configs.FUNCTIONAL,
    ]:
        assert pair in allowed
    for name in ["Lambda", "TFSMLayer", "JaxLayer", "FlaxLayer", "TorchModuleWrapper", "Layer"]:
        assert ("keras.layers", name) not in allowed and ("keras", name) not in allowed
    for module, name in allowed - {configs.FUNCTIONAL}:
        symbol = api_export.get_symbol_from_name(f"{module}.{name}")
        assert isinstance(symbol, type) and api_export.get_name_from_symbol(symbol)


# Hostile descriptions: each refused, naming what, and quickly, without memory.


def config_of(model: keras.Model) -> dict:
    return json.loads(model.to_json())


def layer_config(config: dict, index: int) -> dict:
    return config["config"]["layers"][index]


def dense_units(units: int) -> dict:
    config = config_of(small_network())
    layer_config(config, 1)["config"]["units"] = units
    return config


def with_layer(config: dict, layer: dict) -> dict:
    config["config"]["layers"].insert(1, layer)
    return config


def nested(depth: int) -> str:
    """A model whose initialiser's seed is nested `depth` deep, as JSON text."""
    config = config_of(small_network())
    layer_config(config, 1)["config"]["kernel_initializer"]["config"]["seed"] = "deep"
    return json.dumps(config).replace('"deep"', '{"x": ' * depth + "{}" + "}" * depth)


def lambda_layer() -> dict:
    def double(x):
        return 2 * x

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Lambda(double)])
    return config_of(model)


def foreign_node(module: str, name: str) -> dict:
    config = config_of(small_network())
    node = {"module": module, "class_name": name, "config": {}, "registered_name": None}
    layer_config(config, 1)["config"]["kernel_initializer"] = node
    return config


def vocabulary_file() -> dict:
    model = keras.Sequential(
        [keras.Input(shape=(1,), dtype="string"), keras.layers.StringLookup(vocabulary=["a"])]
    )
    config = config_of(model)
    layer_config(config, 1)["config"]["vocabulary"] = "/etc/passwd"
    return config


def special_node(kind: str) -> dict:
    config = config_of(small_network())
    node = {"class_name": kind, "config": {"value": [1.0], "dtype": "float32"}}
    layer_config(config, 1)["config"]["kernel_initializer"] = node
    return config


TFSM = {
    "module": "keras.layers",
    "class_name": "TFSMLayer",
    "config": {"filepath": "saved", "call_endpoint": "serve", "name": "t"},
    "registered_name": None,
}
HOSTILE = {
    "dense_2_21": (lambda: dense_units(2**21), "parameters"),
    "dense_2_28": (lambda: dense_units(2**28), "parameters"),
    "lambda": (lambda_layer, "keras.layers.Lambda"),
    "tfsm_layer": (lambda: with_layer(config_of(small_network()), TFSM), "TFSMLayer"),
    "vocabulary_file": (vocabulary_file, "/etc/passwd"),
    "unsafe_switch": (
        lambda: foreign_node("keras.config", "enable_unsafe_deserialization"),
        "keras.config.enable_unsafe_deserialization",
    ),
    "module_os": (lambda: foreign_node("os", "system"), "os.system"),
    "numpy_value": (lambda: special_node("__numpy__"), "__numpy__"),
    "lambda_value": (lambda: special_node("__lambda__"), "__lambda__"),
    "tensor_value": (lambda: special_node("__tensor__"), "__tensor__"),
    "nested_10000": (lambda: nested(10_000), "nested more than 64"),
}


def measured(run):
    """What `run()` raised, with the seconds and the peak memory growth (MiB) it took."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(Refused) as refused:
        run()
    seconds = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return str(refused.value), seconds, grown


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_models_are_refused_before_they_are_built(case, tmp_path):
    make, named = HOSTILE[case]
    config = make()
    text = config if isinstance(config, str) else json.dumps(config)
    node = {"t": "model", "config": text, "weights": [], "compile": "null"}
    said, seconds, grown = measured(lambda: values.rebuild_model(node, Answer(tmp_path, "r1")))
    assert named in said, said
    assert seconds < 10 and grown < 200, (seconds, grown)
    from keras.src.backend.common import global_state

    assert not global_state.get_global_attribute(rebuild.PENDING)


def test_deep_nesting_is_refused_by_the_reader_and_by_the_check():
    text = "[" * 10_000 + "]" * 10_000
    with pytest.raises(Refused, match="nested"):
        configs.parse(text, "the model")
    deep: list = []
    inner = deep
    for _ in range(10_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(Refused, match="nested more than 64"):
        configs.check(deep, "the model")
    with pytest.raises(Refused, match="MiB"):
        configs.parse(" " * (configs.MAX_CONFIG + 1), "the model")


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("filepath", "model.keras", "filepath"),
        ("fn", "categorical_crossentropy", "fn"),
        ("custom_objects", {}, "custom_objects"),
        ("module", "os", "module"),
        ("name", "~/.ssh/id_rsa", "~/.ssh"),
        ("name", "https://example.org/x", "https://"),
        ("name", "C:\\model", "C:"),
    ],
)
def test_settings_naming_files_code_or_modules_are_refused(setting, value, named):
    config = config_of(small_network())
    layer_config(config, 1)["config"][setting] = value
    with pytest.raises(Refused, match="the model") as refused:
        rebuild.build_model(config)
    assert named in str(refused.value)


def test_the_parameter_bound_is_an_argument():
    config = config_of(reference_network())
    config.pop("compile_config", None)
    with pytest.raises(Refused, match="8,070 parameters"):
        rebuild.build_model(config, max_parameters=8069)
    assert rebuild.build_model(config, max_parameters=8070).count_params() == 8070
    assert rebuild.MAX_PARAMETERS >= 100 * 100_000


def test_too_many_layers_are_refused():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2)])
    config = config_of(model)
    dense = layer_config(config, 1)
    config["config"]["layers"] += [dense] * configs.MAX_LAYERS
    with pytest.raises(Refused, match="1,000 layers"):
        configs.check(config, "the model")


def test_hostile_compile_settings_are_refused(notebook):
    model = small_network()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    settings = model.get_compile_config()
    for loss, named in [
        ({"module": "builtins", "class_name": "function", "config": "get"}, "'get'"),
        ({"module": "os", "class_name": "function", "config": "system"}, "os.system"),
        ({"module": "os", "class_name": "system", "config": {}}, "os.system"),
    ]:
        with pytest.raises(Refused, match=named):
            rebuild.compile_arguments({**settings, "loss": loss})
    with pytest.raises(Refused, match="compile does not take"):
        rebuild.compile_arguments({**settings, "custom_objects": {}})


def test_weight_files_must_fit_the_model(notebook):
    model = small_network()
    notebook.names["_bridged_model"] = model
    try:
        manifest, answer = notebook.serve({"op": "get", "id": "r9", "names": ["_bridged_model"]})
    finally:
        notebook.names.pop("_bridged_model")
    node = manifest["values"]["_bridged_model"]
    np.save(notebook.folder / node["weights"][0], np.zeros((4, 300), dtype="float32"))
    with pytest.raises(Refused, match="do not fit its layers"):
        values.rebuild_model(node, answer)
    with pytest.raises(Refused, match="do not fit its layers"):
        values.rebuild_model({**node, "weights": node["weights"][1:]}, answer)
    with pytest.raises(Refused, match="another request"):
        values.rebuild_model({**node, "weights": ["r1-0.npy", *node["weights"][1:]]}, answer)


def write_npy(folder: Path, name: str, header: bytes, data: bytes) -> None:
    (folder / name).write_bytes(header + data)


def npy_header(shape: tuple, descr: str) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def test_array_files_that_lie_about_their_size_are_refused(tmp_path):
    write_npy(tmp_path, "r1-0.npy", npy_header((2**34,), "<f8"), bytes(16))
    answer = Answer(tmp_path, "r1")
    said, seconds, grown = measured(lambda: answer.array("r1-0.npy"))
    assert "holds 16" in said and seconds < 1 and grown < 50
    with pytest.raises(RefusedArray):
        answer.shape("r1-0.npy")


def test_object_and_structured_arrays_are_refused(tmp_path):
    np.save(tmp_path / "r1-0.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "r1-1.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    answer = Answer(tmp_path, "r1")
    with pytest.raises(ValueError, match="pickle"):
        answer.array("r1-0.npy")
    with pytest.raises(Refused, match="dtype"):
        answer.array("r1-1.npy")


def test_honest_array_files_read_as_numpy_writes_them(tmp_path):
    arrays = [
        np.arange(12, dtype=">i4").reshape(3, 4),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.float32(0.5),
        np.array(["a", "bc"]),
        np.zeros((0, 3), dtype=np.float16),
    ]
    for i, array in enumerate(arrays):
        np.save(tmp_path / f"r1-{i}.npy", array)
    answer = Answer(tmp_path, "r1")
    for i, array in enumerate(arrays):
        got = answer.array(f"r1-{i}.npy")
        assert got.dtype == array.dtype and got.shape == np.shape(array)
        assert np.array_equal(got, array) and got.flags.writeable
        assert answer.shape(f"r1-{i}.npy") == np.shape(array)


# The lab's compile exercise, graded as the judge grades it: the test cell runs here, and
# compile_model runs on the notebook's side of an in-process bridge.

COMPILE_STYLES = [*h.COMPILE_SPELLINGS, "optimiser_and_loss_objects"]


@pytest.mark.parametrize("style", COMPILE_STYLES)
def test_correct_compile_styles_get_full_marks_on_the_compile_test(
    notebook, tmp_path, capsys, style
):
    source = nbformat.read(SOURCE, as_version=4)
    submitted = h.correct_styles(source)[style]
    names = {"keras": keras, "np": np, "layers": keras.layers, "NUM_CLASSES": 10}
    exec(cell(source, "model").source, names)
    names["model"] = names["build_model"](names["num_filters"])
    exec(cell(submitted, "compile").source, names)  # the student's cell: compiles model
    images = np.random.default_rng(1).random((64, 28, 28, 1), dtype="float32")
    labels = np.eye(10, dtype="float32")[np.arange(64) % 10]
    history = names["model"].fit(images, labels, batch_size=16, epochs=1, verbose=0)
    metric = [k for k in history.history if k != "loss"]  # accuracy, acc, categorical_accuracy
    assert len(metric) == 1 and "acc" in metric[0], history.history

    (tmp_path / "out").mkdir()
    kernel = InProcessKernel(notebook, tmp_path / "out")
    handle = notebook.bridge["register"](names["compile_model"])
    judged = {
        "compile_model": values.StudentFunction(kernel, handle, "compile_model"),
        "model": rebuilt(notebook, names["model"]),
    }
    test = cell(source, "test_compile").source
    assert "### BEGIN HIDDEN TESTS" in test
    exec(test, judged)
    assert values.NOTES == [] and "Note" not in capsys.readouterr().out
    assert np.allclose(
        judged["model"].evaluate(images, labels, verbose=0),
        names["model"].evaluate(images, labels, verbose=0),
        rtol=1e-5,
    )


def test_the_compile_test_fails_a_metric_that_is_not_accuracy(notebook, tmp_path):
    source = nbformat.read(SOURCE, as_version=4)

    def compile_model(model):
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["mse"])
        return model

    (tmp_path / "out").mkdir()
    kernel = InProcessKernel(notebook, tmp_path / "out")
    handle = notebook.bridge["register"](compile_model)
    model = compile_model(build_model(4))
    judged = {
        "compile_model": values.StudentFunction(kernel, handle, "compile_model"),
        "model": rebuilt(notebook, model),
    }
    with pytest.raises(AssertionError, match="should report the accuracy"):
        exec(cell(source, "test_compile").source, judged)


def test_the_bridge_kernel_imports_nothing_of_the_kit():
    imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", BRIDGE_KERNEL, re.MULTILINE)
    assert imports and not [name for name in imports if name.startswith("course_utils")]
