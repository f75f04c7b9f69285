"""Rebuilding a model, and its compile settings, from Keras's description of it, within bounds.

The description comes from the student's kernel; `course_utils.grading.configs` has checked it
before anything here runs. The model is then built without memory for its weights (Keras's
stateless scope defers every variable: it has a shape, no value), and refused when it would
hold more than `MAX_PARAMETERS` numbers; only then are its variables given memory. Compile
settings are rebuilt on their own, after the model is built: Keras's own loss and metric
functions by their names in Keras's registry, everything else as Keras deserialises it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

from course_utils.grading.configs import COMPILE_KEYS, check, keras_function, parse
from course_utils.grading.wire import Refused

#: numbers a rebuilt model may hold: about 100 times the largest network of the course (the
#: lab's has 8,070 at 4 filters, the quiz's widest 72,554 at 32)
MAX_PARAMETERS = 10_000_000
#: Keras's list of variables created in a stateless scope and not yet given memory
PENDING = "uninitialized_variables"


def parameter_count(variables: Iterable[Any]) -> int:
    """The numbers `variables` hold (each variable once), from their shapes alone."""
    unique = {id(v): v for v in variables}
    return sum(math.prod(int(d) for d in v.shape) for v in unique.values())


def _deserialize(config: dict[str, Any]) -> Any:
    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        except Refused:
            raise
        except Exception as error:  # noqa: BLE001 (Keras's own refusal, any kind)
            raise Refused(f"Keras could not rebuild the model: {str(error)[:300]}") from None
    if not isinstance(model, keras.Model):
        raise Refused("the model's architecture does not describe a Keras model")
    return model


def build_model(config: Any, max_parameters: int = MAX_PARAMETERS) -> Any:
    """The Keras model `config` describes, checked, and given memory only within the bound.

    Args:
        config: the model's configuration, as read from JSON (compile settings removed).
        max_parameters: the most numbers its variables may hold.

    Returns:
        The model, uncompiled, its weights as Keras initialised them.

    Raises:
        Refused: when the configuration breaks a bound, or the model would be too large.
    """
    if not isinstance(config, dict):
        raise Refused("the model's architecture is not a Keras configuration")
    check(config, "the model")
    try:
        from keras.src.backend.common import global_state
        from keras.src.backend.common.stateless_scope import StatelessScope
    except ImportError:  # a Keras without them: built as the checks above allow
        return _deserialize(config)
    global_state.set_global_attribute(PENDING, [])
    try:
        with StatelessScope(initialize_variables=False):
            model = _deserialize(config)
        pending = list(global_state.get_global_attribute(PENDING) or [])
        count = parameter_count([*pending, *model.weights])
        if count > max_parameters:
            raise Refused(
                f"the model would hold {count:,} parameters, more than the {max_parameters:,} "
                "the grader rebuilds"
            )
        for variable in pending:
            variable._deferred_initialize()
    finally:
        global_state.set_global_attribute(PENDING, [])
    return model


def build_described(text: Any, max_parameters: int = MAX_PARAMETERS) -> Any:
    """`build_model` of the architecture the notebook's kernel described as `text` (a model's
    ``to_json``), without its compile settings: they are checked, and used, on their own."""
    config = parse(text, "the model")
    if isinstance(config, dict):
        config.pop("compile_config", None)
    return build_model(config, max_parameters)


def _compile_value(value: Any) -> Any:
    import keras

    if isinstance(value, list):
        return [_compile_value(x) for x in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "function":
        return keras_function(value.get("config"))
    if "class_name" in value:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.saving.deserialize_keras_object(value, safe_mode=True)
    return {key: _compile_value(x) for key, x in value.items()}


def compile_arguments(settings: Any) -> dict[str, Any]:
    """The arguments of ``Model.compile`` that compile settings from the notebook describe.

    Raises:
        Refused: when the settings break a bound of this module.
    """
    what = "the model's compiling (loss, optimiser, metrics)"
    if not isinstance(settings, dict):
        raise Refused(f"{what} is not a Keras configuration")
    unknown = sorted(str(key)[:40] for key in settings if key not in COMPILE_KEYS)
    if unknown:
        raise Refused(f"{what} holds {', '.join(unknown)}, which compile does not take")
    check(settings, what, functions=True)
    try:
        return {key: _compile_value(value) for key, value in settings.items()}
    except Refused:
        raise
    except Exception as error:  # noqa: BLE001 (Keras's own refusal, any kind)
        raise Refused(f"Keras could not rebuild {what}: {str(error)[:300]}") from None
