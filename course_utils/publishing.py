"""The students' repository: released notebooks and the helpers they import, nothing else.

``python -m course_utils.publishing DEST`` (``make publish DEST=...``) writes into DEST:
``release/A/`` for each published assignment, the modules of ``course_utils`` that those
notebooks import (and the modules those import), a ``pyproject.toml`` that installs them, a
students' README and the licence. ``source/``, tests, the grader, the gradebook and every other
instructor file stay behind.

Before DEST is touched, the new tree and whatever DEST already holds are checked
(`problems`): no nbgrader region marker, no instructor folder or gradebook, no link, and no
line of a solution, hidden test or written answer's mark scheme of any assignment in
``source/`` that is not closed. An assignment is closed (``--closed A``) once its answers may
be shown, after its due date: a later assignment may then hand them out (the quiz imports the
lab's network from ``course_utils.model``). With any problem, nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
import shutil
import stat
import string
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat

from course_utils.assignments import colab_badge, install_spec, kit_config
from course_utils.environment import REPO
from course_utils.grading.regions import HIDDEN_TESTS, SOLUTION, blocks, without_regions

#: The file in DEST that lists what the last publish wrote (and may replace).
MANIFEST = ".course-kit-published"
MARKERS = (*SOLUTION, *HIDDEN_TESTS)
#: Folders and files that never belong in the students' repository.
FORBIDDEN_PARTS = {"source", "tests", "autograded", "submitted", "feedback", "grades", "grading"}
FORBIDDEN_NAMES = {"gradebook.db", "nbgrader_config.py", ".course-kit"}
FORBIDDEN_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
#: What nbgrader's ClearSolutions writes in place of answers: public by design.
STUBS = {"YOUR ANSWER HERE", "# YOUR CODE HERE", "raise NotImplementedError()"}


class PublishError(Exception):
    """Publishing stopped before writing anything; the message says why."""


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
    public = set(STUBS)
    for notebook in sorted((course / "source").glob("*/*.ipynb")):
        assignment = notebook.parent.name
        for cell in nbformat.read(notebook, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("solution"):
                hidden = [cell.source]
            else:
                hidden = blocks(cell.source, SOLUTION) + blocks(cell.source, HIDDEN_TESTS)
                public |= _lines(without_regions(cell.source, SOLUTION, HIDDEN_TESTS))
            if assignment not in closed:
                secret.update({line: assignment for block in hidden for line in _lines(block)})
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


def _imports(code: str) -> set[str]:
    """The ``course_utils`` modules that `code` imports (IPython's ``%`` and ``!`` lines aside)."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n.split(".")[1] for n in names if n.startswith("course_utils.")}


def student_modules(notebooks: list[Path], package: Path) -> list[str]:
    """The package's modules (file names) that `notebooks` need, following their imports."""
    wanted = {m for nb in notebooks for c in nbformat.read(nb, 4).cells for m in _imports(c.source)}
    done: set[str] = set()
    while todo := {m for m in wanted - done if (package / f"{m}.py").is_file()}:
        for module in todo:
            done.add(module)
            wanted |= _imports((package / f"{module}.py").read_text())
    return ["__init__.py", *sorted(f"{m}.py" for m in done)]


def _pyproject(kit: dict) -> str:
    """A pyproject.toml that installs the students' package: the kit's, less instructor extras."""
    project, q = kit["project"], json.dumps
    fields = ("name", "version", "description", "requires-python", "license", "dependencies")
    lines = ["[build-system]", *(f"{k} = {q(v)}" for k, v in kit["build-system"].items())]
    lines += ["", "[project]", 'readme = "README.md"', *(f"{k} = {q(project[k])}" for k in fields)]
    lines += ["", "[project.optional-dependencies]"]
    lines += [f"tensorflow = {q(project['optional-dependencies']['tensorflow'])}", ""]
    return "\n".join([*lines, "[tool.setuptools.packages.find]", 'include = ["course_utils*"]', ""])


def build(into: Path, assignments: list[str], course: Path = REPO) -> None:
    """Write the students' tree for `assignments` into the empty folder `into`."""
    config, notebooks = kit_config(course / "pyproject.toml"), []
    for assignment in assignments:
        folder = course / "release" / assignment
        notebook = folder / f"{assignment}.ipynb"
        if not notebook.is_file():
            raise PublishError(f"{notebook} is missing: run `make release` first")
        first = nbformat.read(notebook, as_version=4).cells
        if first[0].source.splitlines()[:1] != [colab_badge(assignment, config)] or not any(
            install_spec(config) in c.source for c in first if c.cell_type == "code"
        ):
            raise PublishError(
                f"{notebook}'s badge or setup cell does not point at {config['repository']}@"
                f"{config['release_tag']}: run `python tools/colab.py`, then `make release`"
            )
        shutil.copytree(folder, into / "release" / assignment, symlinks=True)
        notebooks.append(notebook)
    modules = student_modules(notebooks, course / "course_utils")
    (into / "course_utils").mkdir()
    for module in modules:
        shutil.copyfile(course / "course_utils" / module, into / "course_utils" / module)
    kit = tomllib.loads((course / "pyproject.toml").read_text())
    (into / "pyproject.toml").write_text(_pyproject(kit))
    shutil.copyfile(course / "LICENSE", into / "LICENSE")
    rows = ["| assignment | open in Colab |", "|---|---|"]
    rows += [f"| `release/{a}/{a}.ipynb` | {colab_badge(a, config)} |" for a in assignments]
    readme = string.Template((course / "docs" / "students-readme.md").read_text())
    (into / "README.md").write_text(
        readme.substitute(
            assignments="\n".join(rows),
            repository=config["repository"],
            tag=config["release_tag"],
            modules=", ".join(f"`{m.removesuffix('.py')}`" for m in modules[1:]),
        )
    )


def publish(
    dest: Path, assignments: list[str], closed: frozenset[str] = frozenset(), course: Path = REPO
) -> list[str]:
    """Check, then write the students' tree into `dest`; return the paths written.

    `dest` may be absent, empty (a fresh ``git clone`` of the students' repository) or an
    earlier publish: files an earlier publish wrote are replaced, others kept and checked.
    Raises `PublishError`, with nothing written, when anything is unfit.
    """
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise PublishError(f"{dest} is not a folder")
    manifest = dest / MANIFEST
    earlier = set(manifest.read_text().split("\n")) - {""} if manifest.is_file() else set()
    secrets = secret_lines(course, closed)
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        build(tree, assignments, course)
        written = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
        found = problems(tree, secrets)
        if dest.is_dir():
            kept = frozenset({".git", MANIFEST, *earlier})
            found += [f"{dest.name}/{p}" for p in problems(dest, secrets, skip=kept)]
            found += [
                f"{dest.name}/{p}: already there, not written by an earlier publish; move it away"
                for p in written
                if p not in earlier and (dest / p).exists()
            ]
        if found:
            hint = (
                "\nA later assignment may hand out an earlier one's answers once that one is"
                " closed (after its due date): --closed ASSIGNMENT (make publish CLOSED=...)."
                if any("solutions or hidden tests" in p for p in found)
                else ""
            )
            raise PublishError("not published, nothing written:\n  " + "\n  ".join(found) + hint)
        for old in sorted(earlier, reverse=True):
            path = dest / old
            if path.is_file() or path.is_symlink():
                path.unlink()
            for parent in path.parents:
                if parent == dest or not parent.is_dir() or any(parent.iterdir()):
                    break
                parent.rmdir()
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(tree, dest, dirs_exist_ok=True)
    manifest.write_text("\n".join([*written, ""]))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.publishing DEST [--assignment A] [--closed A] [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.publishing", description=__doc__)
    parser.add_argument("dest", type=Path, help="the students' repository (a folder)")
    parser.add_argument("--assignment", action="append", help="publish only these (repeatable)")
    parser.add_argument("--closed", action="append", default=[], help="its answers may show")
    parser.add_argument("--check", action="store_true", help="only check DEST as it is")
    args = parser.parse_args(argv)
    closed = frozenset(args.closed)
    if args.check:
        found = problems(args.dest, secret_lines(REPO, closed))
        print("\n".join(found) or f"{args.dest}: no solution, hidden test or instructor file")
        return 1 if found else 0
    assignments = args.assignment or sorted(p.name for p in (REPO / "release").iterdir())
    try:
        written = publish(args.dest, assignments, closed)
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    config = kit_config()
    print(f"published {', '.join(assignments)} into {args.dest} ({len(written)} files)")
    print(
        f"next: cd {args.dest} && git add -A && git commit -m 'Release {config['release_tag']}'"
        f" && git tag {config['release_tag']} && git push origin HEAD {config['release_tag']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
