"""The judge, on the quiz, and its parts on their own: which names a test cell reads, what the
bridge refuses, and files it will not follow.

The quiz class: each submission solves every exercise but one, which it gets wrong and hides
with a trick (patched NumPy or Keras, shadowed builtins, a tag, silenced errors, an input
transformer, a displayhook), or leaks instead. The filter experiment is left unsolved, so no
network is trained and every submission also loses ``test_sweep``.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from course_utils.grading.judge import student_names
from course_utils.grading.values import decode, rebuild_model
from course_utils.grading.wire import Answer, Refused
from support import QUIZ, Course
from support import hostile as h
from support.judged import grade, hidden_lines_in_returned_files, lost, submit_all

ASSIGNMENT = "lab3_quiz"


@pytest.fixture(scope="module")
def quiz_class(tmp_path_factory):
    """(course, the tests each student must lose, the scores), graded once."""
    course = Course(tmp_path_factory.mktemp("judge-quiz"), ASSIGNMENT)
    reference = course.solved(QUIZ.answers)
    expected = submit_all(course, h.quiz_tricks(course, reference))
    return course, expected, grade(course)


def test_each_quiz_trick_loses_exactly_what_it_targets(quiz_class):
    _, expected, scores = quiz_class
    assert len(expected) >= 8
    got = {s: sorted(lost(scores[s])) for s in expected}
    assert {s: g for s, g in got.items() if g != sorted(expected[s])} == {}


def test_no_returned_quiz_file_holds_a_hidden_test_line(quiz_class):
    course, _, _ = quiz_class
    assert hidden_lines_in_returned_files(course) == {}


def test_a_test_cell_reads_the_notebook_names_it_does_not_define():
    source = """import numpy as np
from course_utils.model import build_model as reference

def check(net):
    return float(net.count_params()) + len(expected_layers) + abs(-1)

_rows = [f(x) for x in data]
net = compile_model(reference(4))
assert check(net) > 0 and isinstance(test_accuracy, float)
print(sorted(results))
"""
    assert student_names(source) == {
        "expected_layers",
        "f",
        "data",
        "compile_model",
        "test_accuracy",
        "results",
    }


def _answer(tmp_path, manifest: dict, arrays: dict[str, np.ndarray]) -> Answer:
    (tmp_path / "r1.json").write_text(json.dumps(manifest))
    for name, array in arrays.items():
        np.save(tmp_path / name, array, allow_pickle=True)
    return Answer(tmp_path, "r1")


def test_the_bridge_passes_data_and_keeps_its_types(tmp_path):
    answer = _answer(tmp_path, {}, {"r1-0.npy": np.arange(3.0), "r1-1.npy": np.float32(0.5)})
    value = decode(
        {
            "t": "dict",
            "v": [
                [{"t": "int", "v": "4"}, {"t": "tuple", "v": [{"t": "bool", "v": True}]}],
                [{"t": "str", "v": "x"}, {"t": "array", "f": "r1-0.npy"}],
                [{"t": "str", "v": "s"}, {"t": "scalar", "f": "r1-1.npy"}],
            ],
        },
        answer,
        None,
        {},
    )
    assert value[4] == (True,) and value["x"].tolist() == [0.0, 1.0, 2.0]
    assert type(value["s"]) is np.float32


def test_object_arrays_and_unknown_values_are_refused(tmp_path):
    answer = _answer(tmp_path, {}, {"r1-0.npy": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        decode({"t": "array", "f": "r1-0.npy"}, answer, None, {})
    with pytest.raises(Refused):
        decode({"t": "array", "f": "../r1-0.npy"}, answer, None, {})
    with pytest.raises(Refused):
        decode({"t": "code", "v": "print(1)"}, answer, None, {})
    opaque = decode(
        {"t": "opaque", "type": "torch.Tensor", "name": "Tensor", "h": 1}, answer, None, {}
    )
    assert type(opaque).__name__ == "Tensor"
    with pytest.raises(Refused, match="torch.Tensor"):
        float(opaque)


def test_the_bridge_follows_no_link_and_reads_no_fifo(tmp_path):
    secret = tmp_path / "secret.npy"
    np.save(secret, np.zeros(2))
    os.symlink(secret, tmp_path / "r1-0.npy")
    os.mkfifo(tmp_path / "r1-1.npy")
    answer = Answer(tmp_path, "r1")
    for name in ("r1-0.npy", "r1-1.npy"):
        with pytest.raises(Refused):
            answer.array(name)


def test_models_are_rebuilt_from_keras_classes_only(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    config = json.loads(model.to_json())
    config["config"]["layers"][-1]["module"] = "__main__"
    answer = _answer(tmp_path, {}, {})
    with pytest.raises(Refused, match="Keras's own"):
        rebuild_model({"config": json.dumps(config), "weights": [], "compile": "null"}, answer)
