"""course_utils.model: the lab's network and compile settings; its parameter count."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course_utils.model import build_model, compile_model


def count_parameters(f: int) -> int:
    """The closed form (the quiz's exercise 5, kept out of the students' package): Conv2D 1->f
    9f + f, Conv2D f->f 9f^2 + f, two BatchNorms 4f each, Dense from 14*14*f inputs 1960f + 10.
    """
    return (9 * f + f) + (9 * f * f + f) + 2 * 4 * f + (14 * 14 * f * 10 + 10)


LAYERS = [
    "Conv2D",
    "BatchNormalization",
    "Activation",
    "MaxPooling2D",
    "Conv2D",
    "BatchNormalization",
    "Activation",
    "Flatten",
    "Dense",
    "Softmax",
]


def test_lab_model_has_8070_parameters():
    assert build_model(4).count_params() == 8070 == count_parameters(4)


@pytest.mark.parametrize("num_filters", [1, 2, 4, 8, 16, 32])
def test_closed_form_matches_keras(num_filters):
    assert count_parameters(num_filters) == build_model(num_filters).count_params()


def test_non_trainable_parameters_are_the_batch_norm_statistics():
    model = build_model(8)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable == 2 * 2 * 8


def test_layers_in_the_lab_order_with_the_lab_settings():
    model = build_model(4)
    assert [type(layer).__name__ for layer in model.layers] == LAYERS
    assert tuple(model.inputs[0].shape[1:]) == (28, 28, 1)
    for conv in (model.layers[0], model.layers[4]):
        assert conv.filters == 4 and tuple(conv.kernel_size) == (3, 3) and conv.padding == "same"
    pool = model.layers[3]
    assert tuple(pool.pool_size) == (2, 2) and tuple(pool.strides) == (2, 2)
    assert model.layers[2].activation.__name__ == "relu"
    assert model.layers[8].units == 10
    assert tuple(model.outputs[0].shape[1:]) == (10,)


def test_outputs_are_probabilities():
    model = build_model(4)
    out = np.asarray(model(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_compile_settings():
    model = compile_model(build_model(4))
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.001)
    assert model.loss == "categorical_crossentropy"
    result = model.evaluate(
        np.zeros((2, 28, 28, 1), "float32"),
        np.eye(10, dtype="float32")[[0, 1]],
        verbose=0,
        return_dict=True,
    )
    assert set(result) == {"loss", "accuracy"}
