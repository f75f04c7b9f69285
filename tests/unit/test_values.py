"""Values across the bridge, both ways: the notebook's side writes, the judge's side reads back.

The notebook's side is `bridge_kernel` (run here in-process, as the student's kernel runs it);
the judge's is `values` with the file checks of the wire format. Hostile nodes are refused with
`Refused`, never another error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from course_utils.grading import bridge_kernel as bk
from course_utils.grading import reuse, values
from course_utils.grading.values import (
    NOTES,
    Opaque,
    StudentFunction,
    decode,
    encode,
    opaque,
)
from course_utils.grading.wire import Answer, Refused

keras = pytest.importorskip("keras")


def _send(value, folder, rid: str = "r1"):
    """`value` written by the notebook's side as one answer; the judge's reading of it."""
    node = bk.encode(value, bk.Files(str(folder), rid))
    (folder / f"{rid}.json").write_text(json.dumps({"values": {"v": node}}))
    answer = Answer(folder, rid)
    return decode(answer.manifest()["values"]["v"], answer, None, {})


def _decode(node, folder, rid: str = "r1"):
    return decode(node, Answer(folder, rid), None, {})


@pytest.fixture(autouse=True)
def _no_notes():
    NOTES.clear()
    reuse._KEPT.clear()
    yield
    NOTES.clear()
    reuse._KEPT.clear()


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**100),
        1.25,
        -0.0,
        "text\nwith ünïcode",
        [1, [2, [3]]],
        (1, ("a", None)),
        {"a": 1, 2: [3.5], (1, "k"): {"inner": True}},
        [],
        {},
    ],
)
def test_plain_values_round_trip_from_the_notebook(value, tmp_path):
    back = _send(value, tmp_path)
    assert back == value and type(back) is type(value)


def test_nan_and_infinities_cross(tmp_path):
    nan, inf = _send([float("nan"), float("inf")], tmp_path)
    assert math.isnan(nan) and inf == math.inf


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.array([b"x", b"yz"]),
        np.array([1 + 2j]),
        np.zeros((0, 5), dtype=np.uint8),
        np.array(3.5),
    ],
)
def test_arrays_round_trip_with_their_dtype_and_shape(array, tmp_path):
    back = _send(array, tmp_path)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)


def test_numpy_scalars_come_back_as_scalars(tmp_path):
    back = _send([np.float32(0.5), np.int8(-3), np.bool_(True)], tmp_path)
    assert back == [0.5, -3, True]
    assert [type(x) for x in back] == [np.float32, np.int8, np.bool_]


def test_functions_become_callable_stubs_and_other_objects_opaque(tmp_path):
    def preprocess_images(x):
        return x

    class Scaler:
        pass

    fn, obj = _send([preprocess_images, Scaler()], tmp_path)
    assert isinstance(fn, StudentFunction)
    assert fn.__name__.endswith("preprocess_images")
    assert "of the notebook" in repr(fn)
    assert isinstance(obj, Opaque)
    assert type(obj).__name__ == "Scaler"
    assert "not passed to the tests" in repr(obj)
    with pytest.raises(Refused, match="Scaler"):
        getattr(obj, "transform")  # noqa: B009 (the attribute's use is what fails)
    for use in (len, iter, float, int, bool, lambda o: o + 1, lambda o: o < 1, lambda o: o[0]):
        with pytest.raises(Refused):
            use(obj)
    with pytest.raises(Refused):
        np.asarray(obj) + 1


def test_an_opaque_values_class_name_is_safe_and_its_reason_is_kept():
    value = opaque("x.Y", "not an identifier!", 3, "because")
    assert type(value).__name__ == "Opaque"
    with pytest.raises(Refused, match="^because$"):
        value()


def test_a_value_the_notebook_could_not_describe_is_refused_with_its_reason(tmp_path):
    with pytest.raises(Refused, match="could not send it.*OSError: disk full"):
        _decode({"t": "failed", "error": "OSError: disk full"}, tmp_path)


@pytest.mark.parametrize(
    "node",
    [
        None,
        [],
        "none",
        {"t": "pickle", "v": "gASV"},
        {"t": None},
        {},
        {"t": "bool", "v": "true"},
        {"t": "int", "v": 12},
        {"t": "int", "v": "1" * 5000},
        {"t": "float", "v": 0.5},
        {"t": "float", "v": "1" * 100},
        {"t": "str", "v": ["a"]},
        {"t": "list", "v": "abc"},
        {"t": "tuple", "v": {"a": 1}},
        {"t": "dict", "v": {"a": 1}},
        {"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]},
        {"t": "dict", "v": [[{"t": "dict", "v": []}, {"t": "none"}]]},
        {"t": "function", "h": "7"},
        {"t": "handle", "h": 7},
    ],
)
def test_malformed_or_unknown_nodes_are_refused(node, tmp_path):
    with pytest.raises(Refused):
        _decode(node, tmp_path)


@pytest.mark.parametrize(
    "node",
    [
        {"t": "int", "v": "twelve"},
        {"t": "int", "v": "0x10"},
        {"t": "float", "v": "half"},
        {"t": "float", "v": ""},
        {"t": "dict", "v": [[{"t": "int", "v": "1"}]]},
        {"t": "dict", "v": [[{"t": "int", "v": "1"}, {"t": "none"}, {"t": "none"}]]},
        {"t": "dict", "v": [5]},
        {"t": "dict", "v": [None]},
        {"t": "dict", "v": ["ab"]},
        {"t": "model", "id": [1], "config": "{}", "weights": []},
        {"t": "history", "id": {"a": 1}},
        {"t": "model", "id": 1, "config": 5, "weights": []},
        {"t": "model", "id": 2, "config": "[]", "weights": []},
        {"t": "model", "id": 3},
        {"t": "dict", "v": [[{"t": "tuple", "v": [{"t": "list", "v": []}]}, {"t": "none"}]]},
    ],
)
def test_hostile_nodes_are_refused_not_another_error(node, tmp_path):
    with pytest.raises(Refused):
        _decode(node, tmp_path)


def test_an_int_given_as_a_huge_string_is_refused_before_it_is_parsed(tmp_path):
    assert _decode({"t": "int", "v": "9" * 3999}, tmp_path) == int("9" * 3999)
    with pytest.raises(Refused):
        _decode({"t": "int", "v": "9" * 4000}, tmp_path)


def test_nesting_past_the_limit_is_refused_not_a_recursion_error(tmp_path):
    node: dict = {"t": "none"}
    for _ in range(values.MAX_DEPTH + 1):
        node = {"t": "list", "v": [node]}
    with pytest.raises(Refused, match="malformed"):
        _decode(node, tmp_path)
    shallow: dict = {"t": "none"}
    for _ in range(values.MAX_DEPTH):
        shallow = {"t": "list", "v": [shallow]}
    assert _decode(shallow, tmp_path) is not None


def test_a_huge_count_of_items_is_only_as_large_as_the_manifest(tmp_path):
    count = 100_000
    node = {"t": "list", "v": [{"t": "none"}] * count}
    assert _decode(node, tmp_path) == [None] * count


def test_an_array_node_naming_another_requests_file_is_refused(tmp_path):
    np.save(tmp_path / "r2-0.npy", np.zeros(2), allow_pickle=False)
    for name in ("r2-0.npy", "../r1-0.npy", "/etc/passwd", 7, None, "r1-0.npy/../../x"):
        with pytest.raises(Refused):
            _decode({"t": "array", "f": name}, tmp_path)


def test_a_scalar_node_holding_an_array_is_refused(tmp_path):
    np.save(tmp_path / "r1-0.npy", np.zeros(3), allow_pickle=False)
    with pytest.raises(Refused, match="scalar"):
        _decode({"t": "scalar", "f": "r1-0.npy"}, tmp_path)


def test_the_judges_arguments_round_trip_to_the_notebook(tmp_path):
    saved: list[str] = []

    def save(array) -> str:
        name = f"r9-{len(saved)}.npy"
        np.save(tmp_path / name, array, allow_pickle=False)
        saved.append(name)
        return name

    value = [
        None,
        np.True_,
        10**30,
        0.1,
        "s",
        (1, [2]),
        {"k": (3,)},
        np.arange(4).reshape(2, 2).T,  # not contiguous
        np.float32(2.5),
        np.float64(0.5),  # a float: it crosses as one
    ]
    node = json.loads(json.dumps(encode(value, save)))
    back = bk.decode(node, bk.Files(str(tmp_path), "r9"))
    assert back[:7] == [None, True, 10**30, 0.1, "s", (1, [2]), {"k": (3,)}]
    assert np.array_equal(back[7], value[7])
    assert back[8] == 2.5 and isinstance(back[8], np.float32)
    assert back[9] == 0.5 and isinstance(back[9], float)


def test_values_from_the_notebook_go_back_as_handles(tmp_path):
    kept = object()
    handle = bk.register(kept)
    stub = StudentFunction(None, handle, "f")
    thing = opaque("x.Thing", "Thing", handle)
    node = encode({"fn": stub, "obj": thing}, lambda a: "unused")
    assert node["v"][0][1] == {"t": "handle", "h": handle}
    assert bk.decode(node, bk.Files(str(tmp_path), "r1")) == {"fn": kept, "obj": kept}


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", print])
def test_what_the_judge_cannot_pass_is_a_type_error(value):
    with pytest.raises(TypeError):
        encode(value, lambda a: "x")


def test_arguments_nested_too_deeply_are_a_type_error():
    deep: list = []
    inner = deep
    for _ in range(values.MAX_DEPTH + 2):
        inner.append([])
        inner = inner[0]
    with pytest.raises(TypeError, match="nested too deeply"):
        encode(deep, lambda a: "x")


def _model(compiled: bool = True):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)]
    )
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def test_a_model_crosses_with_its_weights_and_compile_settings(tmp_path):
    model = _model()
    back = _send(model, tmp_path)
    assert isinstance(back, keras.Model) and back is not model
    for mine, theirs in zip(back.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(mine, theirs)
    x = np.ones((1, 4), dtype=np.float32)
    assert np.allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert back.compiled
    assert isinstance(back.optimizer, keras.optimizers.Adam)
    assert float(back.optimizer.learning_rate) == pytest.approx(0.01)
    assert NOTES == []


def test_an_uncompiled_model_crosses_uncompiled(tmp_path):
    back = _send(_model(compiled=False), tmp_path)
    assert not back.compiled
    assert NOTES == []


def test_a_model_whose_compile_settings_failed_crosses_uncompiled_with_a_note(tmp_path):
    model = _model()
    node = bk.encode(model, bk.Files(str(tmp_path), "r1"))
    node["compile_error"] = "TypeError: cannot describe"
    back = _decode(node, tmp_path)
    assert not back.compiled
    assert len(NOTES) == 1 and "cannot describe" in NOTES[0] and values.UNCOMPILED in NOTES[0]


def test_one_model_named_twice_is_rebuilt_once(tmp_path):
    model = _model()
    a, b = _send([model, model], tmp_path)
    assert a is b


def test_weights_that_do_not_fit_the_layers_are_refused(tmp_path):
    model = _model(compiled=False)
    node = bk.encode(model, bk.Files(str(tmp_path), "r1"))
    np.save(tmp_path / node["weights"][0], np.zeros((5, 3), np.float32), allow_pickle=False)
    with pytest.raises(Refused, match="do not fit"):
        _decode(node, tmp_path)
    node = bk.encode(model, bk.Files(str(tmp_path), "r1"))
    node["weights"] = node["weights"][:-1]
    with pytest.raises(Refused, match="do not fit"):
        _decode(node, tmp_path)
    node["weights"] = "r1-0.npy"
    with pytest.raises(Refused, match="list of files"):
        _decode(node, tmp_path)


def test_a_model_whose_architecture_is_not_json_is_refused(tmp_path):
    with pytest.raises(Refused):
        _decode({"t": "model", "id": 1, "config": "{not json", "weights": []}, tmp_path)


def test_a_history_crosses_with_its_record_parameters_and_model(tmp_path):
    model = _model()
    history = keras.callbacks.History()
    history.set_model(model)
    history.history = {"loss": [0.9, 0.5], "accuracy": [0.5, 0.75]}
    history.params = {"epochs": 2, "steps": 3, "verbose": 0}
    history.epoch = [0, 1]
    back = _send(history, tmp_path)
    assert isinstance(back, keras.callbacks.History)
    assert back.history == history.history and back.params == history.params
    assert back.epoch == [0, 1]
    assert isinstance(back.model, keras.Model)
    assert np.array_equal(back.model.get_weights()[0], model.get_weights()[0])


def test_a_history_whose_record_is_not_a_dict_is_refused(tmp_path):
    node = {
        "t": "history",
        "id": 1,
        "history": {"t": "list", "v": []},
        "params": {"t": "dict", "v": []},
        "epoch": {"t": "list", "v": []},
        "model": {"t": "none"},
    }
    with pytest.raises(Refused, match="not dicts"):
        _decode(node, tmp_path)
