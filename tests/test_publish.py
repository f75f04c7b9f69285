"""The students' repository: what `make publish` writes, what it refuses, and what its check
finds. (`test_colab.py` installs from a published tree in a fresh environment.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from course_utils.assignments import solution_lines
from course_utils.leaks import problems, secret_lines
from course_utils.publishing import MANIFEST, PublishError, publish
from support import ROOT, assert_no_hidden_tests, cell

LAB, QUIZ = "lab3_part2", "lab3_quiz"


def _files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in _files(folder)}


@pytest.fixture(scope="module")
def lab_only(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("published") / "students"
    publish(dest, [LAB])
    return dest


def test_the_lab_alone_publishes_its_notebook_and_helpers_only(lab_only):
    assert _files(lab_only) == {
        MANIFEST,
        "LICENSE",
        "README.md",
        "pyproject.toml",
        f"release/{LAB}/{LAB}.ipynb",
        "course_utils/__init__.py",
        "course_utils/data.py",  # the lab imports data and plots, not the network (exercise 2)
        "course_utils/handin.py",  # its last cell: the hand-in check
        "course_utils/plots.py",
        "course_utils/settings.py",  # the data's environment variables, defined once
    }
    assert (lab_only / f"release/{LAB}/{LAB}.ipynb").read_bytes() == (
        ROOT / f"release/{LAB}/{LAB}.ipynb"
    ).read_bytes()
    assert (lab_only / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    project = tomllib.loads((lab_only / "pyproject.toml").read_text())["project"]
    assert set(project["optional-dependencies"]) == {"tensorflow"}, "no instructor extras"
    assert problems(lab_only, secret_lines()) == []
    # Checked against the test suite's own reading of the hidden tests, and of the solutions.
    for name in (LAB, QUIZ):
        source, release = (
            ROOT / f"source/{name}/{name}.ipynb",
            ROOT / f"release/{name}/{name}.ipynb",
        )
        files = [p for p in lab_only.rglob("*") if p.is_file()]
        assert_no_hidden_tests(source, release, files)
        answers = solution_lines(source)
        for path in files:
            shown = {line.strip() for line in path.read_text().splitlines()}
            if path.suffix == ".ipynb":
                nb = nbformat.read(path, as_version=4)
                shown = {ln.strip() for c in nb.cells for ln in c.source.splitlines()}
            assert not {a for a in answers & shown if len(a) > 12}, f"{path} shows answers"


def test_the_students_readme_links_each_published_notebook(lab_only):
    readme = (lab_only / "README.md").read_text()
    assert "$" not in readme.replace("$$", ""), "every placeholder filled in"
    urls = re.findall(r"\((https://colab\.research\.google\.com/github/[^)]+)\)", readme)
    assert len(urls) == 1
    assert (lab_only / urls[0].split("/blob/", 1)[1].split("/", 1)[1]).is_file()
    first = nbformat.read(lab_only / f"release/{LAB}/{LAB}.ipynb", as_version=4).cells[0]
    assert urls[0] in first.source, "the README's badge and the notebook's are the same"


def test_the_quiz_is_refused_while_the_labs_answers_are_secret(lab_only, tmp_path):
    """The quiz imports the lab's network from `course_utils.model`, which answers the lab's
    exercises 2 and 3: it can be published only once the lab is closed."""
    before = _snapshot(lab_only)
    with pytest.raises(PublishError) as refused:
        publish(lab_only, [LAB, QUIZ])
    message = str(refused.value)
    assert "course_utils/model.py" in message and f"{LAB}'s solutions" in message
    assert "--closed" in message
    assert _snapshot(lab_only) == before, "a refused publish writes nothing"

    dest = tmp_path / "students"
    shutil.copytree(lab_only, dest)
    (dest / "NOTES.md").write_text("office hours: Tuesdays\n")  # the instructor's own file
    written = publish(dest, [LAB, QUIZ], closed=frozenset({LAB}))
    assert "course_utils/model.py" in written and f"release/{QUIZ}/{QUIZ}.ipynb" in written
    assert (dest / "NOTES.md").read_text() == "office hours: Tuesdays\n"
    assert "lab_parameter_count" not in (dest / "course_utils/model.py").read_text()
    assert problems(dest, secret_lines(closed=frozenset({LAB}))) == []
    # Published again with the lab alone: the quiz and the network go.
    publish(dest, [LAB])
    assert _files(dest) == _files(lab_only) | {"NOTES.md"}


def test_by_default_everything_that_can_be_published_now(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "course_utils.publishing", str(tmp_path / "s"), *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)

    every = sorted(p.name for p in (ROOT / "release").iterdir() if p.is_dir())
    now = [a for a in every if a != QUIZ]  # the quiz waits for the lab's due date
    done = run()
    assert done.returncode == 0, done.stderr
    assert f"published {', '.join(now)} into" in done.stdout
    assert f"left out {QUIZ}: course_utils/model.py" in done.stdout
    assert _files(tmp_path / "s") == set(publish(tmp_path / "now", now)) | {MANIFEST}
    done = run("--closed", LAB)
    assert done.returncode == 0, done.stderr
    assert f"published {', '.join(every)} into" in done.stdout
    assert f"release/{QUIZ}/{QUIZ}.ipynb" in _files(tmp_path / "s")


def test_a_folder_that_was_not_published_into_is_not_overwritten(tmp_path):
    dest = tmp_path / "students"
    dest.mkdir()
    (dest / "README.md").write_text("the repository's own README\n")
    with pytest.raises(PublishError, match="README.md: already there"):
        publish(dest, [LAB])
    assert _files(dest) == {"README.md"}


def _plant(dest: Path, how: str) -> None:
    source = ROOT / f"source/{LAB}/{LAB}.ipynb"
    hidden = cell(nbformat.read(source, as_version=4), "test_model").source
    hidden_line = next(ln for ln in hidden.splitlines() if "1979" in ln)
    quiz = nbformat.read(ROOT / f"source/{QUIZ}/{QUIZ}.ipynb", as_version=4)
    mark_scheme = max(cell(quiz, "q_bias").source.splitlines(), key=len)
    if how == "source notebook":
        shutil.copyfile(source, dest / "release" / LAB / "answers.ipynb")
    elif how == "hidden line in README":
        with open(dest / "README.md", "a") as f:
            f.write(f"\n    {hidden_line}\n")
    elif how == "mark scheme in a text file":
        (dest / "notes.txt").write_text(mark_scheme + "\n")
    elif how == "solution in a helper":
        answer = cell(nbformat.read(source, as_version=4), "compile").source.splitlines()[3]
        with open(dest / "course_utils" / "plots.py", "a") as f:
            f.write(f"\n#{answer}\n")
    elif how == "solution cell left in a notebook":
        path = dest / "release" / LAB / f"{LAB}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell(nb, "model").source = cell(nbformat.read(source, as_version=4), "model").source
        nbformat.write(nb, path)
    elif how == "hidden line in a binary file":
        (dest / "figure.bin").write_bytes(b"\x89PNG\x00\x01" + hidden_line.encode() + b"\xff")
    elif how == "region marker":
        with open(dest / "README.md", "a") as f:
            f.write("\n=== BEGIN MARK SCHEME ===\n")
    elif how == "gradebook":
        shutil.copyfile(dest / "LICENSE", dest / "gradebook.db")
    elif how == "source folder":
        (dest / "source").mkdir()
        (dest / "source" / "empty.txt").write_text("")
    elif how == "link":
        (dest / "data").symlink_to("/etc")


PLANTS = [
    "source notebook",
    "hidden line in README",
    "mark scheme in a text file",
    "solution in a helper",
    "solution cell left in a notebook",
    "hidden line in a binary file",
    "region marker",
    "gradebook",
    "source folder",
    "link",
]


@pytest.mark.parametrize("how", PLANTS)
def test_the_check_finds_what_must_not_be_published(lab_only, tmp_path, how):
    dest = tmp_path / "students"
    shutil.copytree(lab_only, dest)
    _plant(dest, how)
    found = problems(dest, secret_lines())
    assert found, f"{how}: not found"
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.publishing", str(dest), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 1 and done.stdout.strip() == "\n".join(found)
