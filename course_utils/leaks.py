"""What must never reach students: the check of a folder before it is published.

`secret_lines` reads every instructor notebook in ``source/``: the lines of its solutions,
hidden tests and written answers' mark schemes. `problems` walks a folder and names each file
that holds one of them, an nbgrader region marker, an instructor's folder or file, or a link.
"""

from __future__ import annotations

import json
import keyword
import re
import stat
from pathlib import Path

import nbformat

from course_utils import layout
from course_utils.assignments import instructor_texts
from course_utils.environment import REPO
from course_utils.grading.regions import HIDDEN_TESTS, SOLUTION

#: nbgrader's region markers: solutions, hidden tests, written answers' mark schemes.
MARKERS = (*SOLUTION, *HIDDEN_TESTS, "BEGIN MARK SCHEME", "END MARK SCHEME")
#: Folders and files that never belong in the students' repository.
FORBIDDEN_PARTS = {*layout.INSTRUCTOR_ONLY_FOLDERS, "tests", "grading"}
FORBIDDEN_NAMES = set(layout.INSTRUCTOR_ONLY_FILES)
FORBIDDEN_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
#: What nbgrader's ClearSolutions writes in place of answers: public by design.
STUBS = {"YOUR ANSWER HERE", "# YOUR CODE HERE", "raise NotImplementedError()"}


def _lines(text: str) -> set[str]:
    """Each line without its indent and the prefixes of a comment, quote or list item."""
    return {re.sub(r"^[\s#>*-]+", "", line).strip() for line in text.splitlines()}


def _distinctive(line: str) -> bool:
    """Whether a line says enough to give an answer away (not ``try:`` or ``return model``)."""
    words = [w for w in re.findall(r"\w+", line) if w not in keyword.kwlist]
    return len("".join(words)) >= 8


def secret_lines(course: Path = REPO, closed: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each instructor-only line of the course, mapped to its assignment.

    Lines inside solution and hidden-test regions, and written answers' mark schemes, of every
    assignment in ``source/`` but the closed ones; less lines that any instructor notebook also
    shows outside those regions, and lines too plain to give anything away.
    """
    secret: dict[str, str] = {}
    public = _lines("\n".join(STUBS))
    for notebook in sorted(layout.CourseFolder(course).source().glob("*/*.ipynb")):
        hidden, shown = instructor_texts(notebook)
        public |= {line for text in shown for line in _lines(text)}
        if notebook.parent.name not in closed:
            secret.update({line: notebook.parent.name for text in hidden for line in _lines(text)})
    return {line: a for line, a in secret.items() if line not in public and _distinctive(line)}


def _notebook_text(data: bytes) -> str:
    """Everything a notebook holds as text: sources, outputs, metadata."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # not JSON, or not a notebook: read it as text
        return data.decode("utf-8", "replace")
    texts = [json.dumps(nb.metadata)]
    for cell in nb.cells:
        texts += [cell.source, json.dumps(cell.metadata)]
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts += [str(v) for v in output.get("data", {}).values()]
            texts += output.get("traceback", [])
    return "\n".join(t if isinstance(t, str) else "".join(t) for t in texts)


def problems(
    folder: Path, secrets: dict[str, str], skip: frozenset[str] = frozenset({".git"})
) -> list[str]:
    """What makes `folder` unfit for students: one message per problem, none when it is fit."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in skip or str(rel) in skip:
            continue
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            if set(rel.parts) & (FORBIDDEN_PARTS | FORBIDDEN_NAMES):
                found.append(f"{rel}/: an instructor's folder")
            continue
        if not stat.S_ISREG(mode):
            found.append(f"{rel}: a link or special file, not a plain file")
            continue
        if rel.name in FORBIDDEN_NAMES or path.suffix in FORBIDDEN_SUFFIXES:
            found.append(f"{rel}: an instructor's file")
        data = path.read_bytes()
        text = _notebook_text(data) if path.suffix == ".ipynb" else data.decode("utf-8", "replace")
        found += [f"{rel}: nbgrader's marker {m!r}" for m in MARKERS if m in text]
        leaked = sorted(_lines(text) & secrets.keys())
        if path.suffix not in (".ipynb", ".py", ".md", ".txt", ".toml", ".cfg", ".json"):
            leaked += sorted(s for s in secrets if s not in leaked and s.encode() in data)
        for assignment in sorted({secrets[line] for line in leaked}):
            mine = [line for line in leaked if secrets[line] == assignment]
            found.append(
                f"{rel}: {len(mine)} line(s) of {assignment}'s solutions or hidden tests, "
                f"such as {mine[0]!r}"
            )
    return found
