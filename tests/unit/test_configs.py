"""`configs`: the bounds a model's description must keep, checked without Keras being loaded.

Everything here is refused (or passed) before any Keras class is looked up, so these tests
run without importing Keras; `tests/test_configs.py` builds real models.
"""

from __future__ import annotations

import pytest

from course_utils.grading import configs

Refused = configs.Refused

TENSOR = {
    "class_name": "__keras_tensor__",
    "config": {"shape": [None, 28, 28, 1], "dtype": "float32", "keras_history": ["in", 0, 0]},
}


def refused(config, functions: bool = False) -> str:
    with pytest.raises(Refused) as error:
        configs.check(config, "the model", functions)
    return str(error.value)


def test_parse_reads_json_text_within_its_bounds(monkeypatch):
    assert configs.parse('{"a": [1, 2.5, null, true]}', "the model") == {"a": [1, 2.5, None, True]}
    with pytest.raises(Refused, match="came without its description"):
        configs.parse(b"{}", "the model")
    with pytest.raises(Refused, match="not described in valid JSON"):
        configs.parse("{'a': 1}", "the model")
    with pytest.raises(Refused, match="nested more than 64 levels"):
        configs.parse("[" * 200_000 + "]" * 200_000, "the model")
    monkeypatch.setattr(configs, "MAX_CONFIG", 10)
    with pytest.raises(Refused, match="described in more than"):
        configs.parse("[" + "1," * 10 + "1]", "the model")


def test_plain_data_and_layer_connections_pass():
    configs.check({"units": 10, "rate": 0.5, "name": "dense_1", "shape": [28, 28], "b": None}, "m")
    configs.check({"inbound": [TENSOR, TENSOR], "trainable": False}, "m")


@pytest.mark.parametrize(
    "text", ["/etc/passwd", "https://example.com/w.h5", "~/.keras/model", "C:\\weights", "a/b"]
)
def test_strings_that_look_like_files_or_addresses_are_refused(text):
    assert "looks like a file or a web address" in refused({"name": text})
    assert "looks like a file or a web address" in refused({text: 1})  # keys too


@pytest.mark.parametrize("key", sorted(configs.FORBIDDEN_KEYS))
def test_settings_that_name_files_code_or_modules_are_refused(key):
    assert f"has a {key!r} setting" in refused({"config": {key: "x"}})


def test_odd_keys_and_modules_outside_objects_are_refused():
    assert "which is not a string" in refused({1: "x"})
    assert "names a module outside a Keras object" in refused({"module": "os", "x": 1})
    assert "names a class that is not a string" in refused({"class_name": 5})


def test_depth_and_size_are_bounded(monkeypatch):
    def nested(depth: int):
        value: object = 1
        for _ in range(depth - 1):
            value = [value]
        return value

    configs.check(nested(configs.MAX_DEPTH), "m")
    assert "nested more than 64 levels" in refused(nested(configs.MAX_DEPTH + 1))
    monkeypatch.setattr(configs, "MAX_NODES", 5)
    configs.check([1, 2, 3, 4], "m")
    assert "holds more than 5 values" in refused([1, 2, 3, 4, 5])


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object(), (1 + 2j)])
def test_values_json_cannot_hold_are_refused(value):
    assert "which JSON does not" in refused({"x": value})


def test_special_values_other_than_connections_are_refused():
    for name in ("__tensor__", "__numpy__", "__bytes__", "__lambda__", "__typespec__"):
        assert "which the grader does not rebuild" in refused({"class_name": name, "config": {}})
    assert "does not rebuild" in refused({**TENSOR, "module": "keras"})
    assert "does not rebuild" in refused({"class_name": "__keras_tensor__", "config": [1]})
    extra = {**TENSOR, "config": {**TENSOR["config"], "value": [1, 2]}}
    assert "unexpected settings" in refused(extra)


def test_functions_only_in_compile_settings_and_only_kerass_own():
    mine = {"class_name": "function", "module": "builtins", "config": "my_loss"}
    assert "functions are rebuilt in compile settings only" in refused(mine)
    imported = {"class_name": "function", "module": "my_helpers", "config": "focal"}
    assert "my_helpers.focal, which is not Keras's own" in refused(imported, functions=True)
