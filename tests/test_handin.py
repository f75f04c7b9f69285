"""The hand-in cell, run in a real kernel: in JupyterLab's place (the saved file beside it), in
Colab's (a stand-in for Colab's module, which hands over the notebook and records the download),
and while the notebook is graded (silent)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from support.notebooks import cell
from support.paths import ROOT

ASSIGNMENT = "lab3_part2"
COLAB = {
    "__init__.py": "",
    "_message.py": """
import json, os
def blocking_request(kind, request="", timeout_sec=5):
    assert kind == "get_ipynb"
    with open(os.environ["STAND_IN_NOTEBOOK"]) as f:
        return {"ipynb": json.load(f)}
""",
    "files.py": """
import os, shutil
def download(path):
    shutil.copy(path, os.environ["STAND_IN_DOWNLOADS"])
""",
}


def hand_in_notebook(extra: str = "") -> nbformat.NotebookNode:
    """The release's hand-in cell after a visible check that fails and one that passed."""
    release = nbformat.read(ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    passed, failed = cell(release, "test_preprocess"), cell(release, "test_model")
    passed.source, passed.execution_count = "x = 1", 1
    failed.source, failed.execution_count = "assert False, 'layer 0 is Dense'", 2
    failed.outputs = [
        nbformat.v4.new_output("error", ename="AssertionError", evalue="layer 0 is Dense")
    ]
    cells = [passed, failed]
    if extra:
        cells.append(nbformat.v4.new_code_cell(extra))
    return nbformat.v4.new_notebook(cells=[*cells, cell(release, "hand_in")])


def run(nb: nbformat.NotebookNode, folder: Path) -> str:
    """Run the cells that are not checks (as a student would), then the hand-in cell."""
    runnable = nbformat.from_dict(nb)
    runnable.cells = [c for c in runnable.cells if "assert False" not in c.source]
    runnable.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(runnable, timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    return "".join(o.get("text", "") for o in runnable.cells[-1].outputs)


@pytest.fixture
def student_folder(tmp_path, monkeypatch):
    for name in ("NBGRADER_EXECUTION", "COURSE_KIT_GRADING", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return tmp_path


def test_saved_notebook_gets_the_file_to_upload_and_the_failing_check(student_folder):
    nb = hand_in_notebook()
    nbformat.write(nb, student_folder / f"{ASSIGNMENT}.ipynb")
    said = run(nb, student_folder)
    assert "test_model: AssertionError: layer 0 is Dense" in said
    assert "test_preprocess" not in said  # it passed
    assert f"Upload this file to the course's LMS: {student_folder / ASSIGNMENT}.ipynb" in said
    assert "Not saved" not in said


def test_a_cell_run_but_not_saved_is_named(student_folder):
    nbformat.write(hand_in_notebook(), student_folder / f"{ASSIGNMENT}.ipynb")
    said = run(hand_in_notebook(extra="answer = 42  # typed after the last save"), student_folder)
    assert "Not saved yet" in said and "answer = 42" in said
    assert "Upload this file" in said  # never blocks the hand-in


def test_in_colab_it_downloads_the_notebook_under_the_expected_name(student_folder, monkeypatch):
    colab = student_folder / "stand-in" / "google" / "colab"
    colab.mkdir(parents=True)
    (colab.parent / "__init__.py").write_text("")
    for name, text in COLAB.items():
        (colab / name).write_text(text)
    held = student_folder / "held.ipynb"  # what Colab holds (the Drive file has another name)
    nb = hand_in_notebook()
    nbformat.write(nb, held)
    downloads = student_folder / "downloads"
    downloads.mkdir()
    monkeypatch.setenv("PYTHONPATH", f"{colab.parent.parent}:{ROOT}")
    monkeypatch.setenv("STAND_IN_NOTEBOOK", str(held))
    monkeypatch.setenv("STAND_IN_DOWNLOADS", str(downloads))
    work = student_folder / "content"
    work.mkdir()
    first = nbformat.from_dict(nb)
    first.cells.insert(0, nbformat.v4.new_code_cell("import google.colab"))
    said = run(first, work)
    assert f"Downloading {ASSIGNMENT}.ipynb" in said, said
    assert [p.name for p in downloads.iterdir()] == [f"{ASSIGNMENT}.ipynb"]
    got = json.loads((downloads / f"{ASSIGNMENT}.ipynb").read_text())
    assert got == json.loads(held.read_text())
    assert "test_model: AssertionError" in said


@pytest.mark.parametrize("variable", ["NBGRADER_EXECUTION", "COURSE_KIT_GRADING"])
def test_while_grading_it_does_nothing(student_folder, monkeypatch, variable):
    monkeypatch.setenv(variable, "autograde" if variable.startswith("NB") else "1")
    nbformat.write(hand_in_notebook(), student_folder / f"{ASSIGNMENT}.ipynb")
    assert run(hand_in_notebook(), student_folder) == ""


def test_the_grader_tells_the_kernel_it_is_grading():
    from course_utils.grading.sandbox import kernel_environment

    assert kernel_environment("/home/student", "/tmp", None)["COURSE_KIT_GRADING"] == "1"
