"""The notebook's side of the judge's bridge: looks up names, calls functions, writes data.

The judge (`course_utils.grading.judge`) sends this module's source to the student's kernel
with every request and runs its `serve`: nothing is imported from the kit there, since a
submission may bring a ``course_utils`` folder of its own. Everything here runs in the
student's process, so nothing it writes is trusted: the judge reads it back as data only.

Wire format (one JSON manifest per request, arrays beside it as ``.npy`` files)::

    {"t": "none"} | {"t": "bool", "v": true} | {"t": "int", "v": "12"} | {"t": "float", "v": "0.5"}
    {"t": "str", "v": "..."} | {"t": "list" | "tuple", "v": [...]} | {"t": "dict", "v": [[k, v]]}
    {"t": "array" | "scalar", "f": "r3-0.npy"}
    {"t": "model", "id": 1, "config": "<to_json>", "weights": ["r3-1.npy"], "compile": "<json>"}
        (``"compile": "null"`` when uncompiled; when its settings could not be described, also
        ``"compile_error": "TypeError: ..."``. In the settings, a function of Keras's own is
        ``{"module": "builtins", "class_name": "function", "config": "<name>"}``, as Keras
        writes it; any other function names its own module, ``"__main__"`` for the notebook's)
    {"t": "history", "id": 2, "history": {...}, "params": {...}, "epoch": [...], "model": {...}}
    {"t": "function" | "opaque", "h": 7, "name": "preprocess_images", "type": "builtins.function"}
    {"t": "failed", "error": "TypeError: ..."}   (a value this side could not describe)
    {"t": "handle", "h": 7}   (judge to notebook only: a value that came from the notebook)
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

REGISTRY = "_course_kit_bridge_handles"
MAX_DEPTH = 64
NUMERIC = "biufcUS"


def handles() -> dict[int, Any]:
    """The objects the judge holds handles to, kept in the kernel between requests."""
    module = sys.modules.get(REGISTRY)
    if module is None:
        module = types.ModuleType(REGISTRY)
        module.__dict__["objects"] = {}
        sys.modules[REGISTRY] = module
    objects: dict[int, Any] = module.objects
    return objects


class Files:
    """Array files of one request, in the folder the judge reads."""

    def __init__(self, folder: str, prefix: str):
        self.folder, self.prefix, self.count = folder, prefix, 0

    def save(self, array: Any) -> str:
        """Write `array` as the next ``.npy`` file; its name."""
        import numpy as np

        name = f"{self.prefix}-{self.count}.npy"
        self.count += 1
        np.save(os.path.join(self.folder, name), np.asarray(array, order="C"), allow_pickle=False)
        return name

    def load(self, name: str) -> Any:
        """The array in file `name` (no pickles)."""
        import numpy as np

        return np.load(os.path.join(self.folder, name), allow_pickle=False)


def register(obj: Any) -> int:
    """A handle the judge can send back to reach `obj`."""
    objects = handles()
    objects[id(obj)] = obj
    return id(obj)


def reason(error: BaseException) -> str:
    """A short account of `error`."""
    return f"{type(error).__name__}: {error}"[:300]


def keras_own(function: Any) -> bool:
    """Whether `function` is one of Keras's own (its module is Keras's)."""
    module = getattr(function, "__module__", None) or ""
    return module == "keras" or module.startswith("keras.")


def portable(value: Any, instances: bool, depth: int = 0) -> Any:
    """Compile settings ready for Keras's serialisation.

    A function not of Keras's own becomes a description naming its module, as Keras cannot
    tell it from one of its own by name. With `instances`, a class (a loss given as
    ``keras.losses.CategoricalCrossentropy``, which Keras's compile accepts) becomes the
    instance Keras would make of it.
    """
    if depth > MAX_DEPTH:
        raise ValueError("compile settings nested too deeply")
    if isinstance(value, dict):
        return {k: portable(v, instances, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(portable(v, instances, depth + 1) for v in value)
    if instances and isinstance(value, type):
        return value()
    if isinstance(value, types.FunctionType) and not keras_own(value):
        return {
            "module": str(value.__module__ or "__main__"),
            "class_name": "function",
            "config": str(value.__name__),
            "registered_name": None,
        }
    return value


def compile_settings(model: Any) -> tuple[Any, str | None]:
    """The model's compile settings as Keras serialises them, or None and why not."""
    if not getattr(model, "compiled", False):
        return None, None
    keras = sys.modules["keras"]
    settings = getattr(getattr(model, "_compile_config", None), "config", None)
    if not isinstance(settings, dict):
        try:
            return model.get_compile_config() or None, None
        except Exception as error:
            return None, reason(error)
    failures: list[Exception] = []
    for instances in (False, True):  # classes become instances only when needed
        try:
            described = keras.saving.serialize_keras_object(portable(settings, instances))
            json.dumps(described)
            return described, None
        except Exception as error:
            failures.append(error)
    return None, reason(failures[-1])


def architecture(model: Any) -> str:
    """The model's ``to_json``, without its compile settings: they cross on their own."""
    compiled = getattr(model, "compiled", False)
    try:
        model.compiled = False  # Keras then leaves the compile settings out
    except Exception:
        return str(model.to_json())
    try:
        return str(model.to_json())
    finally:
        model.compiled = compiled


def encode_model(model: Any, files: Files) -> dict[str, Any]:
    """A Keras model as its architecture, weight files and compile settings."""
    settings, failure = compile_settings(model)
    node = {
        "t": "model",
        "id": id(model),
        "config": architecture(model),
        "weights": [files.save(w) for w in model.get_weights()],
        "compile": json.dumps(settings),
    }
    if failure:
        node["compile_error"] = failure
    return node


def encode(obj: Any, files: Files, depth: int = 0) -> dict[str, Any]:
    """`obj` as the wire format's data."""
    if depth > MAX_DEPTH:
        return {"t": "opaque", "h": register(obj), "name": "value", "type": "nested too deeply"}
    kind = type(obj)
    if obj is None:
        return {"t": "none"}
    if isinstance(obj, bool):
        return {"t": "bool", "v": bool(obj)}
    if kind is int:
        return {"t": "int", "v": str(obj)}
    if kind is float:
        return {"t": "float", "v": repr(obj)}
    if kind is str:
        return {"t": "str", "v": obj}
    if kind in (list, tuple):
        return {"t": kind.__name__, "v": [encode(x, files, depth + 1) for x in obj]}
    if kind is dict:
        return {
            "t": "dict",
            "v": [
                [encode(k, files, depth + 1), encode(v, files, depth + 1)] for k, v in obj.items()
            ],
        }
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray) and obj.dtype.kind in NUMERIC and obj.dtype.fields is None:
            return {"t": "array", "f": files.save(np.asarray(obj))}
        if isinstance(obj, np.generic) and obj.dtype.kind in NUMERIC:
            return {"t": "scalar", "f": files.save(np.asarray(obj))}
    keras = sys.modules.get("keras")
    if keras is not None:
        if isinstance(obj, keras.Model):
            return encode_model(obj, files)
        if isinstance(obj, keras.callbacks.History):
            model = getattr(obj, "model", None)
            return {
                "t": "history",
                "id": id(obj),
                "history": encode(dict(obj.history), files, depth + 1),
                "params": encode(dict(obj.params or {}), files, depth + 1),
                "epoch": encode(list(obj.epoch), files, depth + 1),
                "model": encode_model(model, files) if model is not None else {"t": "none"},
            }
    name = getattr(obj, "__qualname__", None) or kind.__name__
    if callable(obj) and isinstance(
        obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)
    ):
        return {"t": "function", "h": register(obj), "name": str(name)}
    return {
        "t": "opaque",
        "h": register(obj),
        "name": kind.__name__,
        "type": f"{kind.__module__}.{kind.__qualname__}",
    }


def encode_named(obj: Any, files: Files) -> dict[str, Any]:
    """`obj` as data, or a failure saying why not: one value's failure loses no other name."""
    try:
        return encode(obj, files)
    except Exception as error:
        return {"t": "failed", "error": reason(error)}


def decode(node: dict[str, Any], files: Files) -> Any:
    """The judge's arguments as objects in this kernel."""
    kind = node["t"]
    if kind == "none":
        return None
    if kind in ("bool", "str"):
        return node["v"]
    if kind == "int":
        return int(node["v"])
    if kind == "float":
        return float(node["v"])
    if kind in ("list", "tuple"):
        items = [decode(x, files) for x in node["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {decode(k, files): decode(v, files) for k, v in node["v"]}
    if kind == "array":
        return files.load(node["f"])
    if kind == "scalar":
        return files.load(node["f"])[()]
    if kind == "handle":
        return handles()[node["h"]]
    if kind == "model":
        import keras

        model = keras.models.model_from_json(node["config"])
        model.set_weights([files.load(f) for f in node["weights"]])
        compiled = json.loads(node["compile"])
        if compiled:
            model.compile_from_config(compiled)
        return model
    raise ValueError(f"unknown value kind {kind!r}")


def serve(request: dict[str, Any]) -> None:
    """Answer one request of the judge: write its manifest (and arrays) to its folder."""
    out = Files(request["folder"], request["id"])
    try:
        if request["op"] == "get":
            names = sys.modules["__main__"].__dict__
            wanted = [n for n in request["names"] if n in names]
            result: dict[str, Any] = {"values": {n: encode_named(names[n], out) for n in wanted}}
        else:
            given = Files(request["args_folder"], request["id"])
            with open(os.path.join(request["args_folder"], request["id"] + ".json")) as f:
                args, kwargs = decode(json.load(f), given)
            value = handles()[request["h"]](*args, **kwargs)
            result = {"value": encode(value, out)}
    except Exception as error:
        result = {"error": [type(error).__name__, str(error)[:2000]]}
    with open(os.path.join(request["folder"], request["id"] + ".json"), "w") as f:
        json.dump(result, f)
