"""The grading package: the optional imports its processes do without, the course extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from course_utils.grading import SKIPPED_IMPORTS, require_course_extra

#: the string formats that only the skipped modules check
SKIPPED_FORMATS = {"iri", "iri-reference"}


def _formats(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(v) for v in node))
    return set()


def test_a_grading_process_does_not_import_the_skipped_modules_and_still_validates():
    skipped, first = repr(SKIPPED_IMPORTS), repr(SKIPPED_IMPORTS[0])
    code = (
        "import importlib.util\n"
        f"print(importlib.util.find_spec({first}) is not None)\n"  # installed: the skip matters
        "import sys, course_utils.grading, nbformat, jsonschema\n"
        "from nbformat.v4 import new_notebook, new_code_cell\n"
        "nbformat.validate(new_notebook(cells=[new_code_cell('x = 1')]))\n"
        f"print(sorted(n for n in {skipped} if sys.modules.get(n) is not None))\n"
        "print('iri' in jsonschema.FormatChecker.checkers)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["True", "[]", "False"]


def test_no_schema_of_nbformat_uses_a_format_only_the_skipped_modules_check():
    schemas = list(Path(nbformat.__file__).parent.rglob("*.schema.json"))
    assert len(schemas) >= 4
    used = set().union(*(_formats(json.loads(p.read_text())) for p in schemas))
    assert used & SKIPPED_FORMATS == set()
    assert _formats({"a": [{"format": "iri"}]}) == {"iri"}  # the scan finds one where it is


def test_the_course_extra_is_installed_here():
    assert require_course_extra() is None


def test_the_kits_nbgrader_command_is_nbgraders_own_without_the_skipped_imports(tmp_path):
    import nbgrader

    from course_utils.assignments import NBGRADER_MAIN
    from course_utils.assignments import nbgrader as run_nbgrader

    # its imports, then what nbgrader's checks of a notebook load: none of the skipped modules
    imports = NBGRADER_MAIN.rsplit("sys.exit", 1)[0]
    code = imports + (
        "import nbformat\n"
        "from nbformat.v4 import new_notebook, new_code_cell\n"
        "nbformat.validate(new_notebook(cells=[new_code_cell('x = 1')]))\n"
        f"print(sorted(n for n in {SKIPPED_IMPORTS!r} if sys.modules.get(n) is not None))\n"
    )
    loaded = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
    done = run_nbgrader(["--version"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"nbgrader version {nbgrader.__version__}"), done.stdout
    failed = run_nbgrader(["generate_assignment", "no_such_assignment"], tmp_path)
    assert failed.returncode == 1, failed.stderr  # nbgrader's own exit status comes back
