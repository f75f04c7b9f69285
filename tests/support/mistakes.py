"""Each assignment's tests, written answers and kinds of mistake, with the tests each must lose.

The round trip submits one student per mistake (or per group of mistakes aimed at different
tests, `Spec.together`, some without the long experiment, `Spec.untrained`); the hostile class
and the benchmark reuse the lab's table.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Spec:
    """What a graded class of one assignment should show."""

    #: the grade ids of the autograded test cells
    tests: list[str]
    #: text for the manually graded answer cells, by grade id
    answers: dict[str, str]
    #: student -> (cell, text in the reference, replacement, the tests it must lose)
    wrong: dict[str, tuple[str, str, str, set[str]]]
    #: a failing test whose message must reach the student: (student, test, message)
    message: tuple[str, str, str]
    #: mistakes handed in together, in one notebook (they aim at different tests): training
    #: networks costs the same for one mistake as for two
    together: list[tuple[str, ...]] = field(default_factory=list)
    #: a cell that trains for long, and the tests that read what it makes
    experiment: tuple[str, set[str]] | None = None
    #: groups of `together` aimed at other tests, handed in with the `experiment` cell as given:
    #: no training, and those tests lost as well
    untrained: list[tuple[str, ...]] = field(default_factory=list)

    def submission(self, mistake: str) -> str:
        """The student who hands in `mistake` (alone, or with the others of its group)."""
        group = next((g for g in self.together if mistake in g), (mistake,))
        return "__".join(group)

    def submissions(self) -> dict[str, tuple[str, ...]]:
        """Each student of the round trip with a mistake, and the mistakes they hand in."""
        return {self.submission(m): tuple(self.submission(m).split("__")) for m in self.wrong}

    def lost_by(self, student: str) -> set[str]:
        """The tests `student`'s notebook must lose: those its mistakes aim at."""
        group = self.submissions()[student]
        lost = set().union(*(self.wrong[m][3] for m in group))
        if self.experiment is not None and self.skips_experiment(group):
            lost |= self.experiment[1]
        return lost

    def skips_experiment(self, group: tuple[str, ...]) -> bool:
        """Whether the notebook of `group` hands in the experiment cell as given."""
        assert not self.untrained or self.experiment is not None, "untrained needs experiment"
        return group in self.untrained


LAB = Spec(
    tests=[
        "test_preprocess",
        "test_model",
        "test_compile",
        "test_train",
        "test_accuracy",
        "test_confusion",
    ],
    answers={
        "question": "Shirts are confused with T-shirts, pullovers and coats: same outline at "
        "28x28. Trousers and bags are recognised best: their shapes are like no other class."
    },
    wrong={
        "wrong_order": (
            "model",
            'layers.BatchNormalization(),\n            layers.Activation("relu"),\n'
            "            layers.MaxPooling2D",
            'layers.Activation("relu"),\n            layers.BatchNormalization(),\n'
            "            layers.MaxPooling2D",
            {"test_model"},
        ),
        "no_batchnorm": (
            "model",
            'padding="same"),\n            layers.BatchNormalization(),\n'
            '            layers.Activation("relu"),\n            layers.Flatten()',
            'padding="same"),\n            layers.Activation("relu"),\n'
            "            layers.Flatten()",
            {"test_model"},
        ),
        "eight_filters": ("model", "num_filters = 4", "num_filters = 8", {"test_model"}),
        "no_normalisation": (
            "preprocess",
            '.astype("float32") / 255.0',
            '.astype("float32")',
            {"test_preprocess"},
        ),
        "wrong_loss": (
            "compile",
            '"categorical_crossentropy"',
            '"mean_squared_error"',
            {"test_compile"},
        ),
        # 1,000 times too large: training diverges, so the accuracy test fails as well. (A rate
        # only a few times off trains to about the threshold after one epoch, on some seeds
        # above it and on others below: no fair test of what this submission must lose.)
        "wrong_learning_rate": (
            "compile",
            "learning_rate=0.001",
            "learning_rate=1.0",
            {"test_compile", "test_accuracy"},
        ),
        "no_validation_split": ("train", "    validation_split=0.1,\n", "", {"test_train"}),
        "faked_accuracy": (
            "accuracy",
            "test_loss, test_accuracy = model.evaluate(test_img, test_labels_1h, verbose=0)",
            "test_accuracy = 0.91",
            {"test_accuracy"},
        ),
        "transposed_confusion": (
            "confusion",
            "confusion_matrix(actual, predicted)",
            "confusion_matrix(predicted, actual)",
            {"test_confusion"},
        ),
        # Keras cannot train with categorical cross-entropy on integer labels, so this mistake
        # also loses what depends on training.
        "labels_not_one_hot": (
            "preprocess",
            "keras.utils.to_categorical(labels, NUM_CLASSES)",
            "labels",
            {"test_preprocess", "test_train", "test_accuracy", "test_confusion"},
        ),
    },
    message=(
        "wrong_order",
        "test_model",
        "layer 1 is ReLU, expected BatchNormalization: BatchNormalization after the first Conv2D",
    ),
    # Mistakes in different cells handed in together: one training for each group. Each network
    # mistake leads a group. The two mistakes that spoil training (integer labels stop it, a
    # learning rate 1,000 times too large makes it diverge) share a notebook, beside no mistake
    # whose test a spoilt training could fail in its place.
    together=[
        ("wrong_order", "faked_accuracy", "no_normalisation"),
        ("no_batchnorm", "transposed_confusion"),
        ("eight_filters", "no_validation_split", "wrong_loss"),
        ("labels_not_one_hot", "wrong_learning_rate"),
    ],
)

QUIZ = Spec(
    tests=["test_conv", "test_activations", "test_loss", "test_adam", "test_params", "test_sweep"],
    answers={
        "q_filters": "More filters bought about a point of accuracy and cost parameters and time.",
        "q_bias": "The moments start at zero; the corrections remove that bias in early steps.",
        "q_confusion": "Accuracy hides which classes are confused, such as shirts and T-shirts.",
    },
    wrong={
        "valid_padding": (
            "conv",
            "padded = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))",
            "padded = x\n    height, width = height - kh + 1, width - kw + 1",
            {"test_conv"},
        ),
        "softmax_unshifted": (
            "activations",
            "shifted = s - np.max(s, axis=-1, keepdims=True)",
            "shifted = s",
            {"test_activations"},
        ),
        "summed_crossentropy": (
            "loss",
            "-np.mean(np.sum(y_true * np.log(y_pred), axis=-1))",
            "-np.sum(y_true * np.log(y_pred))",
            {"test_loss"},
        ),
        "adam_no_bias_correction": (
            "adam",
            "v_hat = v / (1 - beta1**t)\n    r_hat = r / (1 - beta2**t)",
            "v_hat = v\n    r_hat = r",
            {"test_adam"},
        ),
        "adam_betas_swapped": (
            "adam",
            "v_hat = v / (1 - beta1**t)\n    r_hat = r / (1 - beta2**t)",
            "v_hat = v / (1 - beta2**t)\n    r_hat = r / (1 - beta1**t)",
            {"test_adam"},
        ),
        "params_without_running_stats": (
            "params",
            "batch_norm = 4 * f",
            "batch_norm = 2 * f",
            {"test_params"},
        ),
        "picks_the_best_model": (
            "choice",
            'return min(close, key=lambda f: results[f]["parameters"])',
            'return max(results, key=lambda f: results[f]["accuracy"])',
            {"test_sweep"},
        ),
    },
    message=(
        "adam_betas_swapped",
        "test_adam",
        "the bias corrections are swapped: v (averaged with beta1) is divided by 1 - beta1**t, "
        "r (averaged with beta2) by 1 - beta2**t",
    ),
    # The filter experiment trains four networks: mistakes in different exercises share them
    # (the two Adam mistakes need two notebooks), and the group aimed at other exercises leaves
    # the experiment as given.
    together=[
        (
            "valid_padding",
            "adam_no_bias_correction",
            "summed_crossentropy",
            "picks_the_best_model",
        ),
        ("softmax_unshifted", "adam_betas_swapped", "params_without_running_stats"),
    ],
    experiment=("sweep", {"test_sweep"}),
    untrained=[("softmax_unshifted", "adam_betas_swapped", "params_without_running_stats")],
)

#: The table of each assignment, by name.
SPECS: dict[str, Spec] = {"lab3_part2": LAB, "lab3_quiz": QUIZ}
