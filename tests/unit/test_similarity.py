"""`similarity`: solution cells only, the release left out, refused submissions never read."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from course_utils.grading import similarity

STUB = "def train(model, data):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
SOLVED = """
def normalise(images):
    scaled = images.astype("float32") / 255.0
    centred = scaled - scaled.mean(axis=(1, 2), keepdims=True)
    return centred.reshape(-1, 28, 28, 1)


def train(model, data, epochs=3, batch_size=64):
    images, labels = data
    history = model.fit(normalise(images), labels, epochs=epochs, batch_size=batch_size,
                        validation_split=0.1, verbose=0)
    best = max(history.history["val_accuracy"])
    return model, best
"""
OTHER = """
import numpy as np


def prepare(x):
    out = np.asarray(x, dtype=np.float64)
    for i in range(len(out)):
        out[i] = (out[i] - out[i].min()) / (np.ptp(out[i]) + 1e-9)
    return np.expand_dims(out, -1)


def train(net, pairs):
    xs, ys = pairs
    net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    log = net.fit(prepare(xs), ys, epochs=5, shuffle=True)
    return net, log.history["loss"][-1]
"""


def write(path: Path, *solutions: str, given: str = "import keras") -> Path:
    cells = [nbformat.v4.new_code_cell(given)]  # handed out to everyone: no solution
    for i, code in enumerate(solutions):
        cell = nbformat.v4.new_code_cell(code)
        cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": f"s{i}"}
        cells.append(cell)
    cells.append(nbformat.v4.new_markdown_cell("# BEGIN SOLUTION is not code"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_solution_code_is_the_solution_cells_only(tmp_path):
    path = write(tmp_path / "a.ipynb", "a = 1", "b = 2")
    assert similarity.solution_code(path) == "a = 1\n\nb = 2"
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert similarity.solution_code(tmp_path / "broken.ipynb") == ""
    assert similarity.solution_code(tmp_path / "missing.ipynb") == ""


def test_a_copy_with_new_names_is_flagged_and_other_code_is_not(tmp_path):
    release = write(tmp_path / "release.ipynb", STUB)
    renamed = SOLVED.replace("images", "pictures").replace("scaled", "s").replace("best", "top")
    notebooks = {
        "ann": write(tmp_path / "ann.ipynb", SOLVED),
        "bob": write(tmp_path / "bob.ipynb", renamed),
        "cid": write(tmp_path / "cid.ipynb", OTHER),
        "dee": write(tmp_path / "dee.ipynb", STUB),  # the stub alone: nothing to compare
        "eve": write(tmp_path / "eve.ipynb"),  # no solution cells
    }
    pairs = similarity.similar_pairs(notebooks, release)
    assert [(p.first, p.second) for p in pairs] == [("ann", "bob")]
    assert pairs[0].first_share > 0.9 and pairs[0].second_share > 0.9
    assert similarity.similar_pairs(notebooks, release, threshold=1.01) == []


def test_the_course_pairs_skip_refused_submissions_and_need_a_release(tmp_path):
    def hand_in(student: str, code: str) -> Path:
        return write(tmp_path / "submitted" / student / "lab" / "lab.ipynb", code)

    hand_in("ann", SOLVED)
    hand_in("bob", SOLVED)
    assert similarity.course_pairs(tmp_path, "lab") == []  # no release: nothing compared
    write(tmp_path / "release" / "lab" / "lab.ipynb", STUB)
    assert [(p.first, p.second) for p in similarity.course_pairs(tmp_path, "lab")] == [
        ("ann", "bob")
    ]
    cid = tmp_path / "submitted" / "cid" / "lab"
    cid.mkdir(parents=True)
    os.symlink(tmp_path / "submitted" / "ann" / "lab" / "lab.ipynb", cid / "lab.ipynb")
    assert len(similarity.course_pairs(tmp_path, "lab")) == 1  # the link is never read
