"""The lab's convolutional network: builder and compile settings."""

from __future__ import annotations

import keras
from keras import layers

from course_utils.data import NUM_CLASSES

INPUT_SHAPE = (28, 28, 1)
LEARNING_RATE = 0.001
BATCH_SIZE = 64
VALIDATION_SPLIT = 0.1
# Batches per call into TensorFlow: less overhead per batch, the same updates.
STEPS_PER_EXECUTION = 64


def build_model(num_filters: int = 4, num_classes: int = NUM_CLASSES) -> keras.Sequential:
    """Build the lab's network, uncompiled.

    Input(28, 28, 1) -> [Conv2D 3x3 same -> BatchNorm -> ReLU] -> MaxPool 2x2/2
    -> [Conv2D 3x3 same -> BatchNorm -> ReLU] -> Flatten -> Dense -> Softmax.

    Args:
        num_filters: filters in each convolutional layer (the lab starts at 4).
        num_classes: width of the output layer.

    Returns:
        A `keras.Sequential` model named ``lab3_cnn``.
    """
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(num_filters, kernel_size=(3, 3), padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="same"),
            layers.Conv2D(num_filters, kernel_size=(3, 3), padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Flatten(),
            layers.Dense(num_classes),
            layers.Softmax(),
        ],
        name="lab3_cnn",
    )


def compile_model(
    model: keras.Model,
    learning_rate: float = LEARNING_RATE,
    steps_per_execution: int = STEPS_PER_EXECUTION,
    jit_compile: bool = False,
) -> keras.Model:
    """Compile `model` as the lab does: Adam, categorical cross-entropy, accuracy.

    `steps_per_execution` changes only the speed: 64 batches per call into TensorFlow take
    about two thirds of the time of one at a time on 2 CPU cores. XLA (``jit_compile=True``)
    is off: on a CPU it makes this network slower (docs/calibration.md).

    Returns:
        The same model, compiled.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model
