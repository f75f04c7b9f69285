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
import shutil
import string
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat

from course_utils.assignments import colab_badge, install_spec, kit_config
from course_utils.environment import REPO
from course_utils.layout import PUBLISHED_MANIFEST, RELEASE, CourseFolder
from course_utils.leaks import problems, secret_lines

#: The file in DEST that lists what the last publish wrote (and may replace).
MANIFEST = PUBLISHED_MANIFEST


class PublishError(Exception):
    """Publishing stopped before writing anything; the message says why."""


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
        folder = CourseFolder(course).release(assignment)
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
        shutil.copytree(folder, into / RELEASE / assignment, symlinks=True)
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


def publishable(
    assignments: list[str], closed: frozenset[str] = frozenset(), course: Path = REPO
) -> tuple[list[str], dict[str, str]]:
    """Which of `assignments` can be published together now, in order, and why the others not.

    Each one joins unless the tree with it would show an answer of an assignment that is not
    closed (the quiz, whose network answers the lab, while the lab is open).
    """
    chosen: list[str] = []
    left_out: dict[str, str] = {}
    secrets = secret_lines(course, closed)
    for assignment in assignments:
        with tempfile.TemporaryDirectory() as scratch:
            build(Path(scratch), [*chosen, assignment], course)
            found = problems(Path(scratch), secrets)
        if found:
            left_out[assignment] = found[0]
        else:
            chosen.append(assignment)
    return chosen, left_out


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.publishing DEST [--assignment A] [--closed A] [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.publishing", description=__doc__)
    parser.add_argument("dest", type=Path, help="the students' repository (a folder)")
    parser.add_argument(
        "--assignment", action="append", help="publish these (default: all that can be, now)"
    )
    parser.add_argument("--closed", action="append", default=[], help="its answers may show")
    parser.add_argument("--check", action="store_true", help="only check DEST as it is")
    args = parser.parse_args(argv)
    closed = frozenset(args.closed)
    if args.check:
        found = problems(args.dest, secret_lines(REPO, closed))
        print("\n".join(found) or f"{args.dest}: no solution, hidden test or instructor file")
        return 1 if found else 0
    assignments: list[str] = args.assignment
    left_out: dict[str, str] = {}
    try:
        if not assignments:  # every released assignment that can be published now
            every = sorted(p.name for p in CourseFolder(REPO).release().iterdir() if p.is_dir())
            assignments, left_out = publishable(every, closed)
        written = publish(args.dest, assignments, closed)
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    config = kit_config()
    print(f"published {', '.join(assignments)} into {args.dest} ({len(written)} files)")
    for assignment, why in left_out.items():
        print(f"left out {assignment}: {why}; publish it once that assignment is closed")
    print(
        f"next: cd {args.dest} && git add -A && git commit -m 'Release {config['release_tag']}'"
        f" && git tag {config['release_tag']} && git push origin HEAD {config['release_tag']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
