"""The package's layout: students' helpers apart from grading, small modules, cheap imports."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT

STUDENT_MODULES = ("course_utils.data", "course_utils.model", "course_utils.plots")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_students_helpers_import_nothing_from_the_grading_side():
    code = (
        f"import sys\nfor m in {STUDENT_MODULES!r}: __import__(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('course_utils.grading', "
        "'course_utils.assignments', 'nbgrader', 'nbclient', 'distributed'))))"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_kernel_launcher_imports_only_the_standard_library():
    code = (
        "import sys; before = set(sys.modules)\n"
        "import course_utils.grading.sandbox\n"
        "new = sorted(m for m in set(sys.modules) - before"
        " if sys.modules[m] is not None"  # None: a module held back, not imported
        " and m.split('.')[0] not in sys.stdlib_module_names | {'course_utils'})\n"
        "print(new)"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_course_extra_the_grader_says_what_to_install():
    code = (
        "import importlib.abc, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'nbgrader':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from course_utils.grading.cli import main\n"
        "sys.exit(main(['lab3_part2']))\n"
    )
    done = _run(code)
    assert done.returncode == 2, done.stderr
    assert 'pip install "course-utils[course]"' in done.stderr
    assert "nbgrader" in done.stderr and "Traceback" not in done.stderr


def test_no_module_of_the_package_is_over_300_lines():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "course_utils").rglob("*.py")
    }
    assert len(sizes) > 15
    assert {name: n for name, n in sizes.items() if n > 300} == {}


def test_the_longest_first_order_names_files_that_exist():
    from conftest import LONGEST_FIRST

    files = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    files |= {p.name for p in (ROOT / "source").glob("*/*.ipynb")}
    assert sorted(set(LONGEST_FIRST) - files) == []
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
