"""Rebuilding a model and its compile settings from Keras's description, within bounds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from course_utils.grading.rebuild import (
    MAX_PARAMETERS,
    build_model,
    compile_arguments,
    parameter_count,
)
from course_utils.grading.wire import Refused

keras = pytest.importorskip("keras")


def _config(model) -> dict:
    config = json.loads(model.to_json())
    config.pop("compile_config", None)
    return config


@pytest.fixture(scope="module")
def small():
    """A small network: 4 inputs, 3 classes."""
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]
    )
    return model, _config(model)


def test_parameters_are_counted_from_shapes_each_variable_once():
    a, b = SimpleNamespace(shape=(3, 4)), SimpleNamespace(shape=(5,))
    assert parameter_count([a, b, a]) == 17
    assert parameter_count([]) == 0
    assert parameter_count([SimpleNamespace(shape=())]) == 1


def test_a_model_is_rebuilt_with_the_same_architecture_and_fresh_weights(small):
    original, config = small
    model = build_model(config)
    assert isinstance(model, keras.Model)
    assert model is not original
    assert [layer.__class__ for layer in model.layers] == [Dense := keras.layers.Dense, Dense]
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in original.weights]
    assert model.count_params() == (4 * 5 + 5) + (5 * 3 + 3)
    assert not model.compiled
    model.set_weights(original.get_weights())  # its variables hold memory: usable
    assert model.predict(keras.ops.ones((1, 4)), verbose=0).shape == (1, 3)


def test_a_model_past_the_parameter_bound_is_refused_before_it_has_memory(small):
    _, config = small
    with pytest.raises(Refused, match="43 parameters, more than the 42"):
        build_model(config, max_parameters=42)
    assert build_model(config, max_parameters=43).count_params() == 43
    assert MAX_PARAMETERS >= 100 * 72_554


def test_a_huge_layer_is_refused_without_allocating_it(small):
    _, config = small
    huge = json.loads(json.dumps(config))
    huge["config"]["layers"][-1]["config"]["units"] = 2_000_000_000
    with pytest.raises(Refused, match="parameters"):
        build_model(huge)


@pytest.mark.parametrize("config", [None, [], "model", 3])
def test_something_else_than_a_configuration_is_refused(config):
    with pytest.raises(Refused, match="not a Keras configuration"):
        build_model(config)


def test_a_class_that_is_not_a_model_is_refused(small):
    layer = keras.saving.serialize_keras_object(keras.layers.Dense(2))
    with pytest.raises(Refused):
        build_model(json.loads(json.dumps(layer)))


def test_keras_own_losses_and_metrics_are_rebuilt_by_name():
    settings = {
        "optimizer": keras.saving.serialize_keras_object(keras.optimizers.Adam(0.01)),
        "loss": {"module": "builtins", "class_name": "function", "config": "mean_squared_error"},
        "metrics": ["accuracy"],
    }
    arguments = compile_arguments(json.loads(json.dumps(settings)))
    assert isinstance(arguments["optimizer"], keras.optimizers.Adam)
    assert float(arguments["optimizer"].learning_rate) == pytest.approx(0.01)
    assert callable(arguments["loss"])
    assert arguments["metrics"] == ["accuracy"]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(**arguments)
    assert model.compiled


def test_compile_settings_with_unknown_keys_or_of_another_kind_are_refused():
    with pytest.raises(Refused, match="run_eagerly_please"):
        compile_arguments({"loss": "mse", "run_eagerly_please": True})
    for settings in (None, ["mse"], "adam"):
        with pytest.raises(Refused, match="not a Keras configuration"):
            compile_arguments(settings)


def test_a_function_of_the_notebook_is_refused_by_name():
    settings = {"loss": {"module": "__main__", "class_name": "function", "config": "my_loss"}}
    with pytest.raises(Refused):
        compile_arguments(settings)
