"""Values from the student's kernel, as data in the judge; the judge's arguments, as data there.

What crosses: ``None``, bools, ints, floats, strings, lists, tuples and dicts of these, NumPy
arrays and scalars of numeric or string dtype (their headers checked before they are read),
Keras models (rebuilt from their architecture, weights and compile settings in safe mode, from
Keras's own built-in classes only, within the bounds of `course_utils.grading.configs`) and
Keras ``History`` objects (record, parameters, model). A function of the notebook becomes a
`StudentFunction`, which runs it in the student's kernel; anything else becomes an `Opaque`
value whose every use fails with a message naming its type. A value the notebook's side could
not describe arrives as a failure, and its name is refused with the reason.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

from course_utils.grading import configs, rebuild, reuse
from course_utils.grading.bridge import StudentKernel
from course_utils.grading.wire import Answer, Refused, StudentError

MAX_DEPTH = 64
#: what the tests should be told about values passed to them (printed in the test's output)
NOTES: list[str] = []
#: the models and histories rebuilt for one test, by (kind, the notebook's id)
Models = dict[tuple[str, Any], Any]


class StudentFunction:
    """A function of the notebook: calling it runs it in the student's kernel."""

    def __init__(self, kernel: StudentKernel, handle: int, name: str):
        self._kernel, self._handle, self.__name__ = kernel, handle, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function in the student's kernel; its result, as data."""
        return call_function(self._kernel, self._handle, self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__name__} of the notebook>"


class Opaque:
    """A notebook value the grader does not pass to tests: any use says what it is."""

    _type = "object"

    def __init__(self, handle: int | None, why: str = ""):
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_why", why)

    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        why = object.__getattribute__(self, "_why")
        raise Refused(
            why
            or f"a {type(self)._type} from the notebook cannot be used by the tests: they get "
            "numbers, strings, lists, tuples, dicts, NumPy arrays, Keras models and histories"
        )

    __getattr__ = __call__ = __iter__ = __len__ = __getitem__ = __float__ = __int__ = _refuse
    __add__ = __sub__ = __mul__ = __truediv__ = __lt__ = __gt__ = __le__ = __ge__ = _refuse
    __bool__ = __array__ = __index__ = _refuse

    def __repr__(self) -> str:
        return f"<{type(self)._type} from the notebook, not passed to the tests>"


def opaque(type_name: str, name: str, handle: int | None, why: str = "") -> Opaque:
    """An opaque value whose class carries the notebook value's type name."""
    safe = name if name.isidentifier() else "Opaque"
    kind: type[Opaque] = type(safe, (Opaque,), {"_type": type_name})
    return kind(handle, why)


UNCOMPILED = "The model is passed to the tests uncompiled."


def _set_weights(model: Any, files: Any, answer: Answer) -> None:
    """Give `model` the weights in `files`, once their headers fit its variables."""
    if not isinstance(files, list):
        raise Refused("the model's weights came without their list of files")
    expected = [tuple(int(d) for d in w.shape) for w in model.weights]
    shapes = [answer.shape(f) for f in files] if len(files) == len(expected) else None
    if shapes != expected:
        raise Refused(
            f"the model's weights do not fit its layers: {len(files)} files of shapes "
            f"{str(shapes)[:200]} for {len(expected)} weights of shapes {str(expected)[:200]}"
        )
    try:
        model.set_weights([answer.array(f) for f in files])
    except ValueError as error:
        if isinstance(error, Refused):
            raise
        raise Refused(f"the model's weights do not fit its layers: {error}") from None


def _compile(model: Any, node: dict[str, Any]) -> None:
    """Compile `model` as the notebook did, or leave it uncompiled with a note saying why."""
    failed = node.get("compile_error")
    if failed:
        NOTES.append(
            "Note: the notebook's kernel could not describe the model's compile settings "
            f"({str(failed)[:200]}). {UNCOMPILED}"
        )
        return
    try:
        settings = configs.parse(node.get("compile") or "null", "the model's compiling")
        if not settings:
            return
        arguments = rebuild.compile_arguments(settings)
        model.compile(**arguments)
    except Exception as error:  # noqa: BLE001 (any failure: the model still predicts)
        why = error if isinstance(error, Refused) else f"Keras could not compile it: {error}"
        NOTES.append(f"Note: {str(why)[:500]}. {UNCOMPILED}")
        return
    if model.built and model.optimizer is not None:  # as Keras's compile_from_config does
        model.optimizer.build(model.trainable_variables)


def rebuild_model(node: dict[str, Any], answer: Answer) -> Any:
    """A Keras model from its architecture, weights and compile settings, in safe mode.

    The architecture and the compile settings are checked by `course_utils.grading.configs`
    before anything is built; the weight files must fit the model's variables. A model kept
    from an earlier test is given again, or given these weights (`course_utils.grading.reuse`).
    """
    model, kept_notes = reuse.take(node, answer)  # (None, None): none kept, rebuilt here
    if kept_notes is not None:
        NOTES.extend(kept_notes)
        return model
    notes = len(NOTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model is None:
            model = rebuild.build_described(node.get("config"))
            _set_weights(model, node.get("weights"), answer)
            reuse.remember_predictions(model)
        if not model.compiled:
            _compile(model, node)
    reuse.keep(node, model, NOTES[notes:])
    return model


def _number(kind: Callable[[str], Any], text: str) -> Any:
    """`text` as a number of `kind` (int or float), or refused."""
    try:
        return kind(text)
    except ValueError:
        raise Refused(f"a malformed number {text[:40]!r} from the notebook's kernel") from None


def decode(node: Any, answer: Answer, kernel: StudentKernel, models: Models, depth: int = 0) -> Any:
    """A value of the student's kernel, as plain data in the judge."""
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        raise Refused("a malformed value from the notebook's kernel")
    kind = node.get("t")
    value = node.get("v")
    if kind == "none":
        return None
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, str) and len(value) < 4000:
        return _number(int, value)
    if kind == "float" and isinstance(value, str) and len(value) < 64:
        return _number(float, value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind in ("list", "tuple") and isinstance(value, list):
        items = [decode(x, answer, kernel, models, depth + 1) for x in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(value, list):
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
            raise Refused("a dict whose items are not pairs")
        pairs = [decode(p, answer, kernel, models, depth + 1) for pair in value for p in pair]
        keys = pairs[::2]
        if any(isinstance(k, (list, dict)) or hasattr(k, "shape") for k in keys):
            raise Refused("a dict whose keys are not numbers, strings or tuples")
        try:
            return dict(zip(keys, pairs[1::2], strict=True))
        except TypeError:  # a tuple holding a list
            raise Refused("a dict whose keys are not numbers, strings or tuples") from None
    if kind == "array":
        return answer.array(node.get("f"))
    if kind == "scalar":
        array = answer.array(node.get("f"))
        if array.ndim != 0:
            raise Refused("a NumPy scalar that is not one value")
        return array[()]
    if kind in ("model", "history"):
        if not isinstance(node.get("id"), int):
            raise Refused(f"a {kind} without its id from the notebook's kernel")
        key = (kind, node.get("id"))
        if key not in models:
            models[key] = (rebuild_model if kind == "model" else rebuild_history)(
                node, answer, *(() if kind == "model" else (kernel, models))
            )
        return models[key]
    if kind == "function" and isinstance(node.get("h"), int):
        return StudentFunction(kernel, node["h"], str(node.get("name", "function"))[:200])
    if kind == "opaque":
        return opaque(str(node.get("type"))[:200], str(node.get("name"))[:100], node.get("h"))
    if kind == "failed":
        raise Refused(f"the notebook's kernel could not send it ({str(node.get('error'))[:300]})")
    raise Refused(f"a value of unknown kind {kind!r} from the notebook's kernel")


def rebuild_history(
    node: dict[str, Any], answer: Answer, kernel: StudentKernel, models: Models
) -> Any:
    """A Keras ``History``: its record, parameters, epochs and model."""
    import keras

    history = keras.callbacks.History()
    record = decode(node.get("history"), answer, kernel, models, 1)
    params = decode(node.get("params"), answer, kernel, models, 1)
    if not isinstance(record, dict) or not isinstance(params, dict):
        raise Refused("a history whose record or parameters are not dicts")
    history.history, history.params = record, params
    history.epoch = decode(node.get("epoch"), answer, kernel, models, 1)
    model = decode(node.get("model"), answer, kernel, models, 1)
    if model is not None:
        history.set_model(model)
    return history


def encode(value: Any, save: Callable[[Any], str], depth: int = 0) -> dict[str, Any]:
    """The judge's argument `value` as data for the notebook's kernel (`save` writes arrays)."""
    import numpy as np

    if depth > MAX_DEPTH:
        raise TypeError("arguments nested too deeply for the notebook's functions")
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, int):
        return {"t": "int", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": str(value)}
    if isinstance(value, (list, tuple)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "v": [encode(x, save, depth + 1) for x in value]}
    if isinstance(value, dict):
        items = [[encode(k, save, depth + 1), encode(v, save, depth + 1)] for k, v in value.items()]
        return {"t": "dict", "v": items}
    if isinstance(value, np.ndarray):
        return {"t": "array", "f": save(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return {"t": "scalar", "f": save(np.asarray(value))}
    if isinstance(value, (StudentFunction, Opaque)):
        return {"t": "handle", "h": object.__getattribute__(value, "_handle")}
    import keras

    if isinstance(value, keras.Model):
        compiled = value.get_compile_config() if value.compiled else None
        return {
            "t": "model",
            "config": value.to_json(),
            "weights": [save(np.asarray(w)) for w in value.get_weights()],
            "compile": json.dumps(compiled or None),
        }
    raise TypeError(f"the grader cannot pass a {type(value).__name__} to the notebook's functions")


def call_function(
    kernel: StudentKernel, handle: int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call the notebook's function `handle` with the judge's arguments; its result, as data."""
    import numpy as np

    rid = kernel.next_id()
    saved: list[str] = []

    def save(array: Any) -> str:
        file = f"{rid}-{len(saved)}.npy"
        np.save(kernel.outbox / file, array, allow_pickle=False)
        saved.append(file)
        return file

    try:
        (kernel.outbox / f"{rid}.json").write_text(json.dumps(encode([list(args), kwargs], save)))
        manifest, answer = kernel.request("call", rid, h=handle, args_folder=str(kernel.outbox))
    finally:
        for file in [*saved, f"{rid}.json"]:
            (kernel.outbox / file).unlink(missing_ok=True)
    try:
        if "error" in manifest:
            ename, evalue = (str(x) for x in manifest["error"][:2])
            raise StudentError(f"{name}() raised {ename}: {evalue}")
        value = decode(manifest.get("value"), answer, kernel, {})
        while NOTES:
            print(NOTES.pop(0))
        return value
    finally:
        answer.remove()
