"""Instructor-side helpers around nbgrader: validate notebooks, generate releases, inspect them.

Each helper runs the real nbgrader command line in a course folder (the folder that holds
`nbgrader_config.py`) and reads its output, since `nbgrader validate` exits 0 whether or not
the tests pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_utils.environment import REPO, tool_env
from course_utils.grading.regions import HIDDEN_TESTS, SOLUTION, blocks, without_regions
from course_utils.layout import CourseFolder
from course_utils.settings import SUBMISSION_TIMEOUT

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
INSTALL_SPEC = re.compile(r'"course-utils @ git\+[^"@]+@[^"]+"')
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")

#: nbgrader's command line (its console script's `main`), after `course_utils.grading`, which
#: skips a module nbgrader's notebook checks never use (2 s of every start)
NBGRADER_MAIN = (
    "import sys\n"
    "import course_utils.grading\n"
    "from nbgrader.apps.nbgraderapp import main\n"
    "sys.argv[0] = 'nbgrader'\n"
    "sys.exit(main())\n"
)

PASSED = "Success! Your notebook passes all the tests."
INVERT_PASSED = "Success! The notebook does not pass any tests."


def nbgrader(
    args: list[str], course: Path, timeout: float = SUBMISSION_TIMEOUT.default
) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in `course` with this interpreter's environment.

    Args:
        args: nbgrader's arguments.
        course: the course folder.
        timeout: seconds before it is stopped (``subprocess.TimeoutExpired``).

    Returns:
        The finished process, with its output as text.
    """
    return subprocess.run(
        [sys.executable, "-P", "-c", NBGRADER_MAIN, *args],
        cwd=course,
        env=tool_env(PYTHONUNBUFFERED="1"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Validation:
    """`nbgrader validate`'s verdict, and its output to show when it failed."""

    passed: bool
    output: str


def validate(notebook: Path, course: Path, invert: bool = False) -> Validation:
    """Run ``nbgrader validate`` (optionally ``--invert``) and read its verdict.

    With ``invert=False`` `passed` means every test passed; with ``invert=True`` it means no
    test passed (what an untouched student version should show).
    """
    done = nbgrader(["validate", str(notebook)] + (["--invert"] if invert else []), course)
    output = done.stdout + done.stderr
    return Validation((INVERT_PASSED if invert else PASSED) in output, output)


def generate(assignment: str, course: Path) -> Path:
    """Run ``nbgrader generate_assignment`` and return the release folder."""
    done = nbgrader(["generate_assignment", assignment, "--force"], course)
    if done.returncode != 0:
        raise RuntimeError(f"generate_assignment {assignment} failed:\n{done.stdout}{done.stderr}")
    return CourseFolder(course).release(assignment)


def instructor_texts(notebook: Path) -> tuple[list[str], list[str]]:
    """The texts of `notebook` that only the instructor may see (solution and hidden-test
    regions, written answers' mark schemes), and the rest of its cells' text."""
    hidden, shown = [], []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            hidden.append(cell.source)
        else:
            hidden += blocks(cell.source, SOLUTION) + blocks(cell.source, HIDDEN_TESTS)
            shown.append(without_regions(cell.source, SOLUTION, HIDDEN_TESTS))
    return hidden, shown


def solution_lines(notebook: Path) -> set[str]:
    """The lines that only the instructor may see: inside solution and hidden-test regions
    (and written answers' mark schemes), less lines that also appear in the public cells.
    """
    hidden, shown = instructor_texts(notebook)
    secret = {line for text in hidden for line in _lines(text)}
    public = {line for text in shown for line in _lines(text)}
    return {line for line in secret - public if len(line) > 3 and not line.startswith("#")} - {
        "YOUR ANSWER HERE"
    }


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


def outputs_of(notebook: Path) -> list[int]:
    """Indices of the cells of `notebook` that carry outputs or execution counts."""
    nb = nbformat.read(notebook, as_version=4)
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]


def kit_config(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """The ``[tool.course-kit]`` table: the repository students install from, and its tag."""
    import tomllib

    return tomllib.loads(pyproject.read_text())["tool"]["course-kit"]


def colab_badge(assignment: str, config: dict[str, str]) -> str:
    """Markdown for the "Open in Colab" badge of `assignment`'s student notebook."""
    repo = config["repository"].removeprefix("https://github.com/").removesuffix(".git")
    url = (
        f"https://colab.research.google.com/github/{repo}/blob/{config['release_tag']}"
        f"/release/{assignment}/{assignment}.ipynb"
    )
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def install_spec(config: dict[str, str]) -> str:
    """The pip requirement, quoted, that a notebook's first cell installs in Colab."""
    return f'"course-utils @ git+{config["repository"]}@{config["release_tag"]}"'


def apply_kit_config(notebook: Path, assignment: str, config: dict[str, str]) -> bool:
    """Rewrite `notebook`'s badge and install line from `config`; return whether it changed."""
    nb = nbformat.read(notebook, as_version=4)
    before = [cell.source for cell in nb.cells]
    for cell in nb.cells:
        cell.source = BADGE.sub(lambda _: colab_badge(assignment, config), cell.source)
        cell.source = INSTALL_SPEC.sub(lambda _: install_spec(config), cell.source)
    if before == [cell.source for cell in nb.cells]:
        return False
    nbformat.write(nb, notebook)
    return True


def notebook_problems(notebook: Path) -> list[str]:
    """What is wrong with an assignment notebook as committed: nbformat schema, outputs,
    nbgrader metadata (every cell, unique ids, points on graded cells, locked test cells)."""
    try:
        nb = nbformat.read(notebook, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # unreadable JSON or a schema error
        return [f"{notebook}: not a valid notebook ({err})"]
    problems = [f"{notebook}: cell {i} has outputs" for i in outputs_of(notebook)]
    seen = set()
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if not meta or meta.get("schema_version") != 3 or not meta.get("grade_id"):
            problems.append(f"{notebook}: cell {i} has no nbgrader metadata (schema 3, grade_id)")
            continue
        if meta["grade_id"] in seen:
            problems.append(f"{notebook}: cell {i} repeats grade_id {meta['grade_id']!r}")
        seen.add(meta["grade_id"])
        if meta.get("grade") and not meta.get("points", 0) > 0:
            problems.append(f"{notebook}: graded cell {meta['grade_id']!r} has no points")
        if meta.get("grade") and not meta.get("solution") and not meta.get("locked"):
            problems.append(f"{notebook}: test cell {meta['grade_id']!r} is not locked")
    return problems


def main(paths: list[str]) -> int:
    """Check notebooks given on the command line (used by the pre-commit hook)."""
    problems = [p for path in paths for p in notebook_problems(Path(path))]
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
