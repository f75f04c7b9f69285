"""Bounds on the Keras configurations that come from the student's kernel, checked before use.

A model crosses the bridge as Keras's own description of it: its configuration (``to_json``),
its weights and its compile settings. The student's kernel writes that description, so
nothing in it is trusted: a hostile notebook may write any JSON at all. What is trusted is
Keras itself, as installed with the grader, and only the part of it that builds plain
networks: its public built-in layers, losses, optimisers, learning-rate schedules, metrics,
initialisers, regularisers, constraints and dtype policies, and its `Sequential`, `Model` and
functional models.

Before anything is built, a configuration must:

* name only those classes, each as Keras itself writes it (the pair ``module``,
  ``class_name`` that ``serialize_keras_object`` gives the class), less the ones that run
  code or read files (`FOREIGN_CODE`); lookup layers only with their vocabulary as a list,
  never as a file;
* hold no special value of Keras's but the layer connections of a functional model
  (``__keras_tensor__``): no tensors, arrays, bytes, lambdas or type specs;
* name functions only in compile settings, and only Keras's own losses and metrics: they are
  found by name in Keras's registry of its public functions, never imported from the module
  the configuration names; a function of the notebook's is refused;
* hold no string that names a file, a web address or a home folder, and no setting that names
  a file, code or a module (`FORBIDDEN_KEYS`);
* stay within `MAX_CONFIG` bytes, `MAX_DEPTH` levels, `MAX_NODES` values and `MAX_LAYERS`
  layers.

Compile settings are checked alike (`course_utils.grading.rebuild` builds the model and its
compile settings once they pass).

A refusal is a `Refused` whose message says what was refused and why.
"""

from __future__ import annotations

import functools
import inspect
import json
import types
from collections.abc import Callable
from typing import Any

from course_utils.grading.wire import Refused
from course_utils.settings import MiB

MAX_CONFIG = 16 * MiB  # bytes of one configuration's JSON text
MAX_DEPTH = 64  # levels of nesting
MAX_NODES = 100_000  # values of all kinds in one configuration
MAX_LAYERS = 1_000

#: Keras's public namespaces whose classes a configuration may name
NAMESPACES = (
    "layers",
    "losses",
    "optimizers",
    "optimizers.schedules",
    "metrics",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "models",
    "dtype_policies",
)
#: Keras's functional model, which has no public name: as Keras writes it in a configuration
FUNCTIONAL = ("keras.src.models.functional", "Functional")
#: public classes that run code of the notebook's, or load files: never rebuilt
FOREIGN_CODE = {
    "Lambda": "runs Python code of the notebook's",
    "TFSMLayer": "loads a saved TensorFlow model from a file",
    "JaxLayer": "runs JAX code of the notebook's",
    "FlaxLayer": "runs Flax code of the notebook's",
    "TorchModuleWrapper": "runs PyTorch code of the notebook's",
    "MeanMetricWrapper": "wraps a function of the notebook's",
    "LossFunctionWrapper": "wraps a function of the notebook's",
}
#: Keras's abstract bases: nothing to compute on their own
BASES = frozenset(
    {
        "Layer",
        "Wrapper",
        "InputSpec",
        "Loss",
        "Metric",
        "Optimizer",
        "LearningRateSchedule",
        "Initializer",
        "Regularizer",
        "Constraint",
    }
)
#: Keras's special values a plain model needs: the connections of a functional model
SPECIAL = {"__keras_tensor__": frozenset({"shape", "dtype", "keras_history"})}
#: settings that name a file, code or a module to import
FORBIDDEN_KEYS = frozenset({"filepath", "function", "fn", "custom_objects"})
#: the namespaces whose functions compile settings may name (losses and metrics)
FUNCTION_SPACES = ("losses", "metrics")
#: each namespace's lookup helpers: functions, but neither losses nor metrics
HELPERS = frozenset({"get", "serialize", "deserialize"})
#: the arguments of ``Model.compile`` that compile settings hold
COMPILE_KEYS = frozenset(
    {
        "optimizer",
        "loss",
        "loss_weights",
        "metrics",
        "weighted_metrics",
        "run_eagerly",
        "steps_per_execution",
        "jit_compile",
    }
)
NOT_KERAS = (
    "the grader rebuilds models from Keras's own built-in layers, losses, optimisers and "
    "metrics only"
)


@functools.cache
def allowed_classes() -> frozenset[tuple[str, str]]:
    """The (module, class name) pairs a configuration may name, as Keras writes them."""
    import keras
    from keras.src import api_export

    pairs = {FUNCTIONAL}
    for space in NAMESPACES:
        namespace = functools.reduce(getattr, space.split("."), keras)
        for name in dir(namespace):
            symbol = getattr(namespace, name)
            public = api_export.get_name_from_symbol(symbol) if inspect.isclass(symbol) else None
            if public is not None:
                module, _, class_name = public.rpartition(".")
                if class_name not in FOREIGN_CODE and class_name not in BASES:
                    pairs.add((module, class_name))
    return frozenset(pairs)


def parse(text: Any, what: str) -> Any:
    """The JSON text `text` from the student's kernel, read within the bounds."""
    if not isinstance(text, str):
        raise Refused(f"{what} came without its description")
    if len(text) > MAX_CONFIG:
        raise Refused(f"{what} is described in more than {MAX_CONFIG >> 20} MiB")
    try:
        return json.loads(text)
    except RecursionError:
        raise Refused(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise Refused(f"{what} is not described in valid JSON ({error})") from None


def _check_string(text: str, what: str) -> None:
    if "/" in text or "\\" in text or text.startswith("~"):
        raise Refused(
            f"{what} holds the string {text[:80]!r}, which looks like a file or a web address: "
            "the grader reads no files to rebuild a model"
        )


def _check_keys(item: dict[Any, Any], what: str) -> None:
    for key in item:
        if not isinstance(key, str):
            raise Refused(f"{what} has a setting named {key!r}, which is not a string")
        _check_string(key, what)
        if key in FORBIDDEN_KEYS:
            raise Refused(
                f"{what} has a {key!r} setting, which names a file, code or a module: "
                "the grader uses none"
            )
    if "module" in item and "class_name" not in item:
        raise Refused(f"{what} names a module outside a Keras object: the grader imports none")


def keras_function(name: Any, what: str = "the model's compiling") -> Callable[..., Any]:
    """Keras's own loss or metric function named `name`, found in Keras's registry by name."""
    from keras.src import api_export

    if isinstance(name, str) and name.isidentifier() and name not in HELPERS:
        for space in FUNCTION_SPACES:
            found = api_export.get_symbol_from_name(f"keras.{space}.{name}")
            if isinstance(found, types.FunctionType):
                return found
    raise Refused(
        f"{what} uses the function {str(name)[:80]!r}, which is not one of Keras's own losses "
        "or metrics"
    )


def _check_function(item: dict[str, Any], what: str, functions: bool) -> None:
    module, name = item.get("module"), item.get("config")
    if not functions:
        raise Refused(
            f"{what} uses the notebook's function {str(name)[:80]!r}: functions are rebuilt "
            "in compile settings only, and only Keras's own losses and metrics"
        )
    if module != "builtins":  # where Keras writes its own functions; the notebook's: elsewhere
        raise Refused(
            f"{what} uses the function {str(module)[:80]}.{str(name)[:80]}, which is not "
            f"Keras's own: {NOT_KERAS}"
        )
    keras_function(name, what)


def _check_special(item: dict[str, Any], what: str) -> None:
    name = item["class_name"]
    allowed = SPECIAL.get(name)
    inner = item.get("config")
    if allowed is None or set(item) - {"class_name", "config"} or not isinstance(inner, dict):
        raise Refused(
            f"{what} holds a Keras {name[:40]} value, which the grader does not rebuild: only "
            "layers and their connections are"
        )
    if set(inner) - allowed:
        raise Refused(f"{what} has a layer connection with unexpected settings")


def _check_node(item: dict[str, Any], what: str, functions: bool) -> int:
    """Check one Keras object of a configuration; 1 if it is a layer, else 0."""
    name, module = item["class_name"], item.get("module")
    if not isinstance(name, str):
        raise Refused(f"{what} names a class that is not a string")
    if name in SPECIAL or (name.startswith("__") and name.endswith("__")):
        _check_special(item, what)
        return 0
    if name == "function":
        _check_function(item, what, functions)
        return 0
    if (module, name) not in allowed_classes():
        where = f"{str(module)[:80]}." if isinstance(module, str) else "the notebook's "
        why = FOREIGN_CODE.get(name)
        if why and isinstance(module, str) and module.startswith("keras."):
            raise Refused(f"{what} uses {where}{name}, which {why}: the grader rebuilds none")
        raise Refused(
            f"{what} uses {where}{name[:80]}, which the grader does not rebuild: {NOT_KERAS}"
        )
    if item.get("registered_name") not in (None, name):
        raise Refused(f"{what} gives {name} a registered name: Keras's own classes have none")
    inner = item.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("vocabulary"), str):
        raise Refused(
            f"{what} gives {name}'s vocabulary as a file ({inner['vocabulary'][:80]!r}): the "
            "grader rebuilds vocabularies given as lists only"
        )
    if item.get("compile_config") not in (None, {}):
        raise Refused(f"{what} compiles a model inside the model: the grader will not")
    return 1 if module == "keras.layers" else 0


def check(config: Any, what: str, functions: bool = False) -> None:
    """Refuse `config` unless it keeps within the bounds of this module.

    Args:
        config: a configuration as read from JSON (dicts, lists, strings, numbers).
        what: what it describes, for the messages (``"the model"``).
        functions: whether Keras's own loss and metric functions may appear (compile
            settings); a model's configuration names none.

    Raises:
        Refused: saying what was refused and why.
    """
    nodes = layers = 0
    stack: list[tuple[Any, int]] = [(config, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise Refused(f"{what} is nested more than {MAX_DEPTH} levels deep")
        if nodes > MAX_NODES:
            raise Refused(f"{what} holds more than {MAX_NODES:,} values")
        if isinstance(item, str):
            _check_string(item, what)
        elif isinstance(item, dict):
            _check_keys(item, what)
            if "class_name" in item:
                layers += _check_node(item, what, functions)
                if layers > MAX_LAYERS:
                    raise Refused(f"{what} has more than {MAX_LAYERS:,} layers")
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise Refused(f"{what} holds a {type(item).__name__}, which JSON does not")
