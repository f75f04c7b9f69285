"""Similar submissions (`course_utils.grading.similarity`): a copy with renamed variables is
flagged; independent solutions of the same lab, and the code every student was given, are not.

Three independent solutions of the lab (the instructor's, and two written apart from it), and
a copy of one of them with every name changed. Nothing is graded: the check reads notebooks.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat

from course_utils.grading.similarity import course_pairs, similar_pairs
from support import LAB, Course, grade_id_of

ASSIGNMENT = "lab3_part2"

FUNCTIONAL = {
    "preprocess": """def preprocess_images(images):
    scaled = images.astype(np.float32) / 255.0
    return scaled.reshape(-1, 28, 28, 1)


def one_hot_labels(labels):
    encoded = np.zeros((len(labels), NUM_CLASSES), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded""",
    "model": """num_filters = 4


def build_model(num_filters):
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(num_filters, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(num_filters, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs)""",
    "compile": """def compile_model(model):
    adam = keras.optimizers.Adam(1e-3)
    model.compile(adam, keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    return model


model = compile_model(model)""",
    "train": """history = model.fit(
    train_img, train_labels_1h, epochs=EPOCHS, batch_size=64, validation_split=0.1, verbose=2
)""",
    "accuracy": """scores = model.evaluate(test_img, test_labels_1h, verbose=0)
test_accuracy = scores[1]
print(f"Test accuracy: {test_accuracy:.2%}")""",
    "confusion": """probabilities = model.predict(test_img, batch_size=1000, verbose=0)
truth = test_labels_1h.argmax(axis=1)
guesses = probabilities.argmax(axis=1)
cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
for t, g in zip(truth, guesses):
    cm[t, g] += 1
print(cm)""",
}

LOOPS = {
    "preprocess": """def preprocess_images(images):
    out = []
    for image in images:
        out.append((image / 255).astype("float32")[..., None])
    return np.stack(out)


def one_hot_labels(labels):
    return np.eye(NUM_CLASSES, dtype="float32")[labels]""",
    "model": """num_filters = 4


def build_model(num_filters):
    net = keras.Sequential(name="small_cnn")
    net.add(keras.Input((28, 28, 1)))
    for block in range(2):
        net.add(layers.Conv2D(filters=num_filters, kernel_size=3, padding="same"))
        net.add(layers.BatchNormalization())
        net.add(layers.Activation("relu"))
        if block == 0:
            net.add(layers.MaxPooling2D(pool_size=2, strides=2, padding="same"))
    net.add(layers.Flatten())
    net.add(layers.Dense(NUM_CLASSES))
    net.add(layers.Activation("softmax"))
    return net""",
    "compile": """def compile_model(model):
    settings = dict(loss="categorical_crossentropy", metrics=["accuracy"])
    model.compile(optimizer="adam", **settings)
    return model


model = compile_model(model)""",
    "train": """fit_args = {"batch_size": 64, "epochs": EPOCHS, "validation_split": 0.1}
history = model.fit(train_img, train_labels_1h, **fit_args)""",
    "accuracy": """_, test_accuracy = model.evaluate(x=test_img, y=test_labels_1h, verbose=0)
print(f"Test accuracy: {test_accuracy:.2%}")""",
    "confusion": """probabilities = model.predict(test_img, batch_size=1000, verbose=0)
predicted = [int(np.argmax(p)) for p in probabilities]
actual = [int(np.argmax(y)) for y in test_labels_1h]
cm = confusion_matrix(actual, predicted)
print(cm)""",
}

RENAMES = {
    "scaled": "normalised",
    "encoded": "onehot",
    "inputs": "inp",
    "outputs": "out_layer",
    "adam": "optimiser",
    "scores": "result",
    "truth": "real_classes",
    "guesses": "guessed_classes",
    "x": "h",
    "t": "a",
    "g": "b",
}


def renamed(solutions: dict[str, str]) -> dict[str, str]:
    """The same code with every local name changed (what a copier does first)."""
    pattern = re.compile(r"\b(" + "|".join(RENAMES) + r")\b")
    return {k: pattern.sub(lambda m: RENAMES[m.group(1)], v) for k, v in solutions.items()}


def notebook(release: nbformat.NotebookNode, solutions: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if grade_id_of(cell) in solutions:
            cell.source = solutions[grade_id_of(cell)]
    return nb


def test_a_renamed_copy_is_flagged_and_independent_solutions_are_not():
    with tempfile.TemporaryDirectory() as tmp:
        course = Course(Path(tmp), ASSIGNMENT)
        release = nbformat.read(course.release, as_version=4)
        course.submit("instructor_style", course.solved(LAB.answers))
        course.submit("functional", notebook(release, FUNCTIONAL))
        course.submit("loops", notebook(release, LOOPS))
        course.submit("copier", notebook(release, renamed(FUNCTIONAL)))
        course.submit("untouched", release)
        # A student folder that is a link: the grader refuses it, so it is not compared.
        (course.root / "submitted" / "linked").symlink_to(course.root / "submitted" / "functional")
        pairs = course_pairs(course.root, ASSIGNMENT)
    assert [(p.first, p.second) for p in pairs] == [("copier", "functional")], pairs
    assert min(pairs[0].first_share, pairs[0].second_share) > 0.9


def test_the_code_every_student_was_given_does_not_count(tmp_path):
    course = Course(tmp_path, ASSIGNMENT)
    release = nbformat.read(course.release, as_version=4)
    given = {g: cell.source for cell in release.cells if (g := grade_id_of(cell)) in LOOPS}
    paths = {}
    for student, solutions in (("a", {**given, "model": LOOPS["model"]}), ("b", given)):
        paths[student] = tmp_path / f"{student}.ipynb"
        nbformat.write(notebook(release, solutions), paths[student])
    assert similar_pairs(paths, course.release) == []
