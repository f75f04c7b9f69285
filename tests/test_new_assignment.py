"""docs/adding-an-assignment.md, followed step by step in a copy of this checkout.

The copy holds this working tree's files (committed or not, less what git ignores) in a fresh
git repository. A small assignment, `demo_intro`, is added there with the guide's own commands
(taken from its code blocks): two exercises on the real data that train nothing, released,
checked, graded by the kit's grader (a reference and a mistake), exported and published. At the
end, git must see exactly the files the guide lists as touched, and no others.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook

from course_utils.assignments import INVERT_PASSED, solution_lines
from course_utils.environment import BIN, tool_env
from course_utils.leaks import problems, secret_lines
from support import ROOT, assert_no_hidden_tests, mutate

GUIDE = ROOT / "docs" / "adding-an-assignment.md"
NAME = "demo_intro"
DEST = "../lab-students"  # the students' repository in the guide's commands

# demo_intro's exercises, in place of the template's example: the grade ids and the mistakes
# are those of the guide's `SPECS` example.
SCALE_MD = """## 1. Pixel values

**Exercise 1.** Write `scale_pixels(images)`, which returns the images as `float32` values in
[0, 1]: each pixel divided by 255."""
SCALE = """def scale_pixels(images):
    ### BEGIN SOLUTION
    return images.astype("float32") / 255.0
    ### END SOLUTION


train_scaled = scale_pixels(train_images)"""
TEST_SCALE = """# Checks for exercise 1
import numpy as np

scaled = scale_pixels(np.array([[0, 128, 255]], dtype=np.uint8))
assert isinstance(scaled, np.ndarray) and scaled.shape == (1, 3), "one value per pixel"
assert np.issubdtype(scaled.dtype, np.floating), f"floats, not {scaled.dtype}"
assert 0.0 <= float(scaled.min()) and float(scaled.max()) <= 1.0, "values in [0, 1]"
print("Exercise 1: visible checks passed.")
### BEGIN HIDDEN TESTS
import importlib

import numpy as np

_data = importlib.reload(importlib.import_module("course_utils.data"))
(_xtr, _), _ = _data.load_fashion_mnist()
_gap = float(np.max(np.abs(scale_pixels(_xtr[:1000].copy()) - _xtr[:1000] / 255.0)))
assert _gap <= 1e-6, "scaled pixels should equal the raw pixels divided by 255"
assert train_scaled.shape == _xtr.shape, "train_scaled should hold every training image"
### END HIDDEN TESTS"""
COUNT_MD = """## 2. How many of each class?

**Exercise 2.** Write `count_classes(labels)`: an array of `NUM_CLASSES` counts, the number of
labels of each class (`np.bincount` helps)."""
COUNT = """def count_classes(labels):
    ### BEGIN SOLUTION
    return np.bincount(labels, minlength=NUM_CLASSES)
    ### END SOLUTION


for name, count in zip(CLASS_NAMES, count_classes(train_labels)):
    print(f"{name:>12}: {count}")"""
TEST_COUNT = """# Checks for exercise 2
import numpy as np

counts = count_classes(np.array([0, 3, 3, 9]))
assert list(counts) == [1, 0, 0, 2, 0, 0, 0, 0, 0, 1], f"[0, 3, 3, 9] gives {list(counts)}"
print("Exercise 2: visible checks passed.")
### BEGIN HIDDEN TESTS
import importlib

import numpy as np

_data = importlib.reload(importlib.import_module("course_utils.data"))
(_, _ytr), (_, _yte) = _data.load_fashion_mnist()
assert list(count_classes(_yte.copy())) == [1000] * 10, "1,000 test images of each class"
_few = _ytr[_ytr < 5]
assert list(count_classes(_few.copy())) == [6000] * 5 + [0] * 5, "a count for every class"
### END HIDDEN TESTS"""
ROW = "| `demo_intro` | scaling pixel values, counting the classes | 4 autograded |"


def _meta(grade_id: str, solution: bool = False, points: int = 0) -> dict:
    return {
        "nbgrader": {
            "grade": points > 0,
            "grade_id": grade_id,
            "locked": not solution,
            "schema_version": 3,
            "solution": solution,
            "task": False,
            **({"points": points} if points else {}),
        }
    }


def _write_exercises(notebook: Path) -> None:
    """Step 2: the template's example exercise becomes demo_intro's two exercises."""
    nb = nbformat.read(notebook, as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    nb.cells[ids.index("exercise1_md") : ids.index("test_exercise1") + 1] = [
        new_markdown_cell(SCALE_MD, metadata=_meta("scale_md")),
        new_code_cell(SCALE, metadata=_meta("scale", solution=True)),
        new_code_cell(TEST_SCALE, metadata=_meta("test_scale", points=2)),
        new_markdown_cell(COUNT_MD, metadata=_meta("count_md")),
        new_code_cell(COUNT, metadata=_meta("count", solution=True)),
        new_code_cell(TEST_COUNT, metadata=_meta("test_count", points=2)),
    ]
    nbformat.write(nb, notebook)


def _listed_files(guide: str) -> set[str]:
    """The files of the guide's "The files to touch" section, for demo_intro."""
    section = guide.split("\n## The files to touch\n", 1)[1].split("\n## ", 1)[0]
    items = re.findall(r"^- `([^`]+)`", section, flags=re.MULTILINE)
    assert len(items) >= 3, section
    return {item.replace("NAME", NAME) for item in items}


def _blocks(guide: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", guide, flags=re.MULTILINE | re.DOTALL)


class Guide:
    """The guide's shell commands, run in the copy as the guide says (with NAME = demo_intro)."""

    def __init__(self, text: str, copy: Path, dest: Path):
        self.lines = [ln for block in _blocks(text, "sh") for ln in block.splitlines()]
        self.copy, self.dest = copy, dest

    def run(self, start: str, swap: tuple[str, str] = ("", "")) -> subprocess.CompletedProcess:
        """Run the guide's one command line that starts with `start` (with `swap`'s first word
        replaced by its second)."""
        found = [line for line in self.lines if line.startswith(start)]
        assert len(found) == 1, f"the guide should have one command starting {start!r}: {found}"
        words = [w.replace("NAME", NAME) for w in shlex.split(found[0], comments=True)]
        swaps = {DEST: str(self.dest), swap[0]: swap[1]}
        words = [swaps.get(w, w) for w in words]
        env = {}
        while re.fullmatch(r"[A-Z_]+=.*", words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        if words[0] == ".venv/bin/python":
            words[0] = sys.executable
        elif words[0].startswith(".venv/bin/"):
            words[0] = str(BIN / words[0].removeprefix(".venv/bin/"))
        # The copy's own package, as in a checkout whose kit is installed from itself.
        env = tool_env(PYTHONPATH=str(self.copy), **env)
        return subprocess.run(
            words, cwd=self.copy, env=env, capture_output=True, text=True, timeout=600
        )


def _copy_of_the_checkout(into: Path) -> Path:
    """This working tree's files (tracked or not, less the ignored), committed in a new repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, into / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree, or a submodule
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=Course", "-c", "user.email=course@example.org"]
    subprocess.run([*git, "init", "-q", str(into)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=into, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "The kit"], cwd=into, check=True)
    return into


def _touched(repo: Path) -> set[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line[3:] for line in status.splitlines()}


def _add_row(page: Path, row: str) -> None:
    """Step 9: a row after the last one of the page's table of assignments."""
    lines = page.read_text().split("\n")
    header = next((i for i, ln in enumerate(lines) if ln.startswith("| assignment |")), None)
    assert header is not None, f"{page.name} has no table of assignments"
    end = header
    while end + 1 < len(lines) and lines[end + 1].startswith("|"):
        end += 1
    lines.insert(end + 1, row)
    page.write_text("\n".join(lines))


def _scores(course: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """(score, max) of every test cell, by student and grade id."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {
            s.id: {
                g.name: (g.score, g.max_score)
                for g in gb.find_submission_notebook(NAME, NAME, s.id).grades
            }
            for s in gb.students
        }


def _done(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout + run.stderr


def test_the_guide_adds_an_assignment_with_the_files_it_lists(tmp_path):
    text = GUIDE.read_text()
    listed = _listed_files(text)
    copy = _copy_of_the_checkout(tmp_path / "kit")
    guide = Guide(text, copy, tmp_path / "students")
    source = copy / "source" / NAME / f"{NAME}.ipynb"
    release = copy / "release" / NAME / f"{NAME}.ipynb"

    # 1-2. From the template, then the exercises and their tests.
    assert "wrote" in _done(guide.run(".venv/bin/python tools/new_assignment.py"))
    first = nbformat.read(source, as_version=4).cells
    assert f"/release/{NAME}/{NAME}.ipynb)" in first[0].source.splitlines()[0]
    assert f'check_hand_in("{NAME}")' in first[-1].source
    _write_exercises(source)
    assert "Success!" in _done(guide.run(".venv/bin/nbgrader validate source/"))
    # 3. Nothing to calibrate: demo_intro trains nothing.

    # 4-5. The release, and its checks.
    assert "all tests pass" in _done(guide.run("LAB_EPOCHS=1 .venv/bin/python tools/release.py"))
    assert INVERT_PASSED in _done(guide.run(".venv/bin/nbgrader validate --invert"))
    assert _done(guide.run(".venv/bin/python -m course_utils.assignments")).strip() == ""
    assert "no solution" in _done(guide.run(".venv/bin/python -m course_utils.publishing release"))

    # 6. A reference and a mistake, graded by the kit's grader; the mistake is the guide's.
    spec: dict = {}
    exec(_blocks(text, "python")[0].replace("NAME", NAME), {"Spec": dict, "SPECS": spec})
    student, test, message = spec[NAME]["message"]
    cell, old, new, lost = spec[NAME]["wrong"][student]
    for start in ("mkdir -p submitted/", "cp source/NAME/NAME.ipynb submitted/"):
        for line in [ln for ln in guide.lines if ln.startswith(start)]:
            _done(guide.run(line))
    handed_in = copy / "submitted" / "mistake" / NAME / f"{NAME}.ipynb"
    nbformat.write(mutate(nbformat.read(handed_in, as_version=4), cell, old, new), handed_in)
    _done(guide.run(".venv/bin/python -m course_utils.grade"))
    scores = _scores(copy)
    assert (
        sorted(scores["reference"]) == sorted(spec[NAME]["tests"]) == ["test_count", "test_scale"]
    )
    assert all(score == top > 0 for score, top in scores["reference"].values())
    assert {t for t, (score, top) in scores["mistake"].items() if score < top} == lost == {test}
    assert scores["mistake"][test][0] == 0
    grades = {r["student_id"]: r for r in csv.DictReader(open(copy / "grades" / f"{NAME}.csv"))}
    assert (grades["reference"]["score"], grades["mistake"]["score"]) == ("4", "2")
    feedback = copy / "feedback" / "mistake" / NAME / f"{NAME}.html"
    assert message in feedback.read_text()
    assert_no_hidden_tests(source, release, [feedback])
    # ... and the round trip's entry, as the guide writes it.
    with open(copy / "tests" / "support" / "mistakes.py", "a") as f:
        f.write("\n" + _blocks(text, "python")[0].replace("NAME", NAME))
    written = ["tests/support/mistakes.py", f"tests/test_roundtrip_{NAME}.py"]
    for ruff in (["check"], ["format", "--check"]):  # the kit's style, as the pre-commit hook
        command = [sys.executable, "-m", "ruff", *ruff, "--no-cache", *written]
        _done(subprocess.run(command, cwd=copy, capture_output=True, text=True))

    # 7. The grades out of the gradebook.
    _done(guide.run(".venv/bin/nbgrader export"))
    rows = list(csv.DictReader(open(copy / "grades" / "long.csv")))
    assert {(r["student"], r["test"]): r["score"] for r in rows} == {
        ("mistake", "test_count"): "2",
        ("mistake", "test_scale"): "0",
        ("reference", "test_count"): "2",
        ("reference", "test_scale"): "2",
    }

    # ... and the trial students out of the gradebook and the course's folders again.
    remove = ".venv/bin/nbgrader db student remove"
    for swap in (("", ""), ("reference", "mistake")):  # as the guide's comment says
        _done(guide.run(remove, swap))
    for line in [ln for ln in guide.lines if ln.startswith("rm -rf ")]:
        _done(guide.run(line))
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
        assert gb.students == []
    for folder in ("submitted", "autograded", "feedback"):
        assert not list((copy / folder).iterdir())

    # 8. The students' repository: the student version, without solutions or hidden tests.
    done = guide.run(f".venv/bin/python -m course_utils.publishing {DEST}")
    assert f"published {NAME} into" in _done(done)
    published = guide.dest / "release" / NAME / f"{NAME}.ipynb"
    assert published.read_bytes() == release.read_bytes()
    shown = {
        ln.strip()
        for c in nbformat.read(published, as_version=4).cells
        for ln in c.source.split("\n")
    }
    assert solution_lines(source) and not solution_lines(source) & shown
    assert problems(guide.dest, secret_lines(copy)) == []

    # The suite's checks of every assignment take the new one: its release, leak check, badge,
    # round trip table and publishing (the round trip's class aside: the grading above).
    checks = [f"tests/test_{f}.py" for f in ("release", "colab", "publish", f"roundtrip_{NAME}")]
    chosen = f"({NAME} and not roundtrip) or a_round_trip or by_default"
    options = ["-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'suite'}", "-k", chosen]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not a worker
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *options, *checks],
        cwd=copy,
        env=tool_env(env, PYTHONPATH=str(copy)),
        capture_output=True,
        text=True,
    )
    assert " passed" in _done(done)  # and none failed

    # 9. Described for readers; then git sees exactly the files the guide lists.
    for page in sorted(p for p in listed if p.endswith(".md")):
        _add_row(copy / page, ROW)
    assert _touched(copy) == listed
