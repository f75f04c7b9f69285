"""The notebook's side of the bridge: what it writes for the judge, and what it reads back."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from course_utils.grading import bridge_kernel as bk

SOURCE = (Path(bk.__file__)).read_text()


@pytest.fixture
def files(tmp_path):
    return bk.Files(str(tmp_path), "r7")


@pytest.fixture
def main_names(monkeypatch):
    """Set names in ``__main__``, as the notebook's cells would (removed afterwards)."""
    main = sys.modules["__main__"]

    def put(**names):
        for name, value in names.items():
            monkeypatch.setattr(main, name, value, raising=False)

    return put


def _fresh_bridge() -> dict:
    """The bridge's source run as the judge runs it in the student's kernel."""
    namespace = {"__name__": "course_kit_bridge"}
    exec(SOURCE, namespace)
    return namespace


class Thing:
    def method(self):
        return 1


def test_plain_values_are_written_as_typed_nodes(files):
    assert bk.encode(None, files) == {"t": "none"}
    assert bk.encode(True, files) == {"t": "bool", "v": True}
    assert bk.encode(12, files) == {"t": "int", "v": "12"}
    assert bk.encode(-(10**40), files) == {"t": "int", "v": str(-(10**40))}
    assert bk.encode(0.1, files) == {"t": "float", "v": "0.1"}
    assert bk.encode(float("nan"), files) == {"t": "float", "v": "nan"}
    assert bk.encode(float("-inf"), files) == {"t": "float", "v": "-inf"}
    assert bk.encode("ünï\n", files) == {"t": "str", "v": "ünï\n"}
    assert bk.encode([1, (2.5, "x")], files) == {
        "t": "list",
        "v": [
            {"t": "int", "v": "1"},
            {"t": "tuple", "v": [{"t": "float", "v": "2.5"}, {"t": "str", "v": "x"}]},
        ],
    }
    assert bk.encode({(1, "a"): None}, files) == {
        "t": "dict",
        "v": [
            [
                {"t": "tuple", "v": [{"t": "int", "v": "1"}, {"t": "str", "v": "a"}]},
                {"t": "none"},
            ]
        ],
    }
    json.dumps(bk.encode({"a": [1, 2.0, None, True]}, files))  # JSON all through


def test_arrays_and_numpy_scalars_go_to_npy_files_without_pickles(files, tmp_path):
    fortran = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    node = bk.encode(fortran, files)
    assert node == {"t": "array", "f": "r7-0.npy"}
    back = np.load(tmp_path / "r7-0.npy", allow_pickle=False)
    assert back.flags.c_contiguous and np.array_equal(back, fortran)
    assert bk.encode(np.float32(1.5), files) == {"t": "scalar", "f": "r7-1.npy"}
    assert np.load(tmp_path / "r7-1.npy").shape == ()
    assert bk.encode(np.array(["ab", "c"]), files)["t"] == "array"  # strings cross
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r7-0.npy", "r7-1.npy", "r7-2.npy"]


def test_objects_and_structured_arrays_stay_in_the_kernel_as_opaque_handles(files, tmp_path):
    for value in (np.array([object(), 1], dtype=object), np.zeros(2, dtype=[("a", "i4")])):
        node = bk.encode(value, files)
        assert node["t"] == "opaque" and node["name"] == "ndarray"
        assert bk.handles()[node["h"]] is value
    assert list(tmp_path.iterdir()) == []  # nothing written for them
    thing = Thing()
    node = bk.encode(thing, files)
    assert node == {
        "t": "opaque",
        "h": id(thing),
        "name": "Thing",
        "type": f"{Thing.__module__}.Thing",
    }


def test_functions_classes_and_methods_become_handles_by_name(files):
    def preprocess_images(x):
        return x

    for value, name in (
        (preprocess_images, "test_functions_classes_and_methods_become_handles_by_name."),
        (len, "len"),
        (Thing, "Thing"),
        (Thing().method, "Thing.method"),
    ):
        node = bk.encode(value, files)
        assert node["t"] == "function" and node["name"].startswith(name.rstrip("."))
        assert bk.handles()[node["h"]] == value


def test_a_value_nested_too_deeply_becomes_opaque_rather_than_a_crash(files):
    deep: list = []
    inner = deep
    for _ in range(bk.MAX_DEPTH + 10):
        inner.append([])
        inner = inner[0]
    node = bk.encode(deep, files)
    for _ in range(bk.MAX_DEPTH + 1):
        node = node["v"][0]
    assert node["t"] == "opaque" and node["type"] == "nested too deeply"


def test_a_value_that_cannot_be_written_fails_alone(tmp_path):
    broken = bk.Files(str(tmp_path / "missing"), "r1")
    node = bk.encode_named(np.zeros(3), broken)
    assert node["t"] == "failed" and node["error"].startswith("FileNotFoundError")
    assert len(bk.reason(ValueError("x" * 1000))) == 300


def test_the_judges_arguments_are_read_back_as_objects(files, tmp_path):
    np.save(tmp_path / "r7-0.npy", np.arange(3.0), allow_pickle=False)
    np.save(tmp_path / "r7-1.npy", np.asarray(np.int8(4)), allow_pickle=False)
    kept = Thing()
    handle = bk.register(kept)
    node = {
        "t": "list",
        "v": [
            {"t": "none"},
            {"t": "bool", "v": False},
            {"t": "int", "v": "123456789012345678901234567890"},
            {"t": "float", "v": "inf"},
            {"t": "tuple", "v": [{"t": "str", "v": "s"}]},
            {"t": "dict", "v": [[{"t": "str", "v": "k"}, {"t": "int", "v": "1"}]]},
            {"t": "array", "f": "r7-0.npy"},
            {"t": "scalar", "f": "r7-1.npy"},
            {"t": "handle", "h": handle},
        ],
    }
    value = bk.decode(node, files)
    assert value[:6] == [None, False, 123456789012345678901234567890, math.inf, ("s",), {"k": 1}]
    assert value[6].tolist() == [0.0, 1.0, 2.0]
    assert value[7] == 4 and isinstance(value[7], np.int8)
    assert value[8] is kept
    with pytest.raises(ValueError, match="unknown value kind 'pickle'"):
        bk.decode({"t": "pickle", "v": "..."}, files)


def test_a_judges_array_file_holding_objects_is_not_unpickled(files, tmp_path):
    np.save(tmp_path / "r7-0.npy", np.array([Thing()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        bk.decode({"t": "array", "f": "r7-0.npy"}, files)


def test_plain_values_round_trip_through_the_notebooks_own_reader(files):
    value = [None, True, -7, 2.5, "x", (1, [2]), {"a": (3,), 4: None}]
    assert bk.decode(json.loads(json.dumps(bk.encode(value, files))), files) == value


def test_handles_survive_between_requests_in_one_registry():
    first = _fresh_bridge()
    second = _fresh_bridge()  # the source is run afresh for every request
    obj = object()
    handle = first["register"](obj)
    assert second["handles"]()[handle] is obj
    assert sys.modules[bk.REGISTRY].objects is second["handles"]()


def test_a_get_request_answers_with_the_names_the_notebook_has(tmp_path, main_names):
    main_names(lab_images=np.ones((2, 2), dtype=np.uint8), lab_name="ada")
    _fresh_bridge()["serve"](
        {"op": "get", "id": "r3", "folder": str(tmp_path), "names": ["lab_images", "lab_nope"]}
    )
    manifest = json.loads((tmp_path / "r3.json").read_text())
    assert manifest == {"values": {"lab_images": {"t": "array", "f": "r3-0.npy"}}}
    assert np.load(tmp_path / "r3-0.npy").tolist() == [[1, 1], [1, 1]]


def test_a_call_request_runs_the_function_with_the_arguments_the_judge_wrote(tmp_path):
    inbox, outbox = tmp_path / "from-student", tmp_path / "to-student"
    inbox.mkdir()
    outbox.mkdir()
    handle = bk.register(lambda a, scale=1: a * scale)
    np.save(outbox / "r4-0.npy", np.array([1, 2]), allow_pickle=False)
    args = {
        "t": "list",
        "v": [
            {"t": "list", "v": [{"t": "array", "f": "r4-0.npy"}]},
            {"t": "dict", "v": [[{"t": "str", "v": "scale"}, {"t": "int", "v": "3"}]]},
        ],
    }
    (outbox / "r4.json").write_text(json.dumps(args))
    request = {"op": "call", "id": "r4", "folder": str(inbox), "args_folder": str(outbox)}
    _fresh_bridge()["serve"]({**request, "h": handle})
    manifest = json.loads((inbox / "r4.json").read_text())
    assert manifest == {"value": {"t": "array", "f": "r4-0.npy"}}
    assert np.load(inbox / "r4-0.npy").tolist() == [3, 6]


def test_a_function_that_raises_answers_with_its_error(tmp_path):
    def broken():
        raise KeyError("missing " + "x" * 3000)

    (tmp_path / "r5.json").write_text(
        json.dumps({"t": "list", "v": [{"t": "list", "v": []}, {"t": "dict", "v": []}]})
    )
    request = {"op": "call", "id": "r5", "folder": str(tmp_path), "args_folder": str(tmp_path)}
    bk.serve({**request, "h": bk.register(broken)})
    ename, evalue = json.loads((tmp_path / "r5.json").read_text())["error"]
    assert ename == "KeyError" and evalue.startswith("'missing xxx") and len(evalue) == 2000


def test_an_unknown_handle_answers_with_an_error_not_a_crash(tmp_path):
    (tmp_path / "r6.json").write_text(
        json.dumps({"t": "list", "v": [{"t": "list", "v": []}, {"t": "dict", "v": []}]})
    )
    request = {"op": "call", "id": "r6", "folder": str(tmp_path), "args_folder": str(tmp_path)}
    bk.serve({**request, "h": -1})
    assert json.loads((tmp_path / "r6.json").read_text())["error"][0] == "KeyError"


def test_compile_settings_name_the_module_of_a_function_that_is_not_keras_own():
    def my_loss(y, p):
        return y - p

    described = bk.portable({"loss": my_loss, "metrics": [my_loss, "accuracy"]}, False)
    expected = {
        "module": __name__,
        "class_name": "function",
        "config": "my_loss",
        "registered_name": None,
    }
    assert described == {"loss": expected, "metrics": [expected, "accuracy"]}
    main_fn = types.FunctionType(my_loss.__code__, {}, "nb_loss")
    main_fn.__module__ = None
    assert bk.portable(main_fn, False)["module"] == "__main__"
    keras_like = types.FunctionType(my_loss.__code__, {}, "mean_squared_error")
    keras_like.__module__ = "keras.src.losses.losses"
    assert bk.keras_own(keras_like) and bk.portable(keras_like, False) is keras_like
    assert not bk.keras_own(my_loss)


def test_compile_settings_make_classes_instances_only_when_asked():
    class Loss:
        pass

    assert bk.portable({"loss": Loss}, False) == {"loss": Loss}
    assert isinstance(bk.portable({"loss": Loss}, True)["loss"], Loss)
    assert bk.portable(("a", ["b"]), True) == ("a", ["b"])


def test_compile_settings_nested_too_deeply_are_refused():
    deep: dict = {}
    inner = deep
    for _ in range(bk.MAX_DEPTH + 2):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(ValueError, match="nested too deeply"):
        bk.portable(deep, False)


def test_an_uncompiled_model_has_no_compile_settings():
    assert bk.compile_settings(types.SimpleNamespace(compiled=False)) == (None, None)
    assert bk.compile_settings(object()) == (None, None)
