"""The judge's own parts: the names a test cell reads, its CPU budget, its clean namespace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from course_utils.grading import judge
from course_utils.grading.judge import KERAS_OPTIONAL, student_names
from course_utils.grading.judge import TestCPULimit as CPULimit

from .kernels import connection, student_kernel


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("assert model.count_params() == 8070", {"model"}),
        ("import numpy as np\nassert np.all(x_train >= 0)", {"x_train"}),
        ("from math import pi\nassert abs(area(1) - pi) < 1e-6", {"area"}),
        ("y = x + 1\nassert y == 2", {"x"}),
        ("def check():\n    return preprocess(images)\ncheck()", {"preprocess", "images"}),
        ("assert [f(i) for i in range(3)] == [0, 1, 2]", {"f"}),
        ("class T:\n    v = w\nT()", {"w"}),
        ("def outer():\n    z = 1\n    def inner():\n        return z + q\n", {"q"}),
        ("print(len(history.history['loss']))", {"history"}),
        ("(n := 5)\nassert n", set()),
        ("for epoch in range(3):\n    pass\nprint(epoch)", set()),
        ("try:\n    pass\nexcept ValueError as error:\n    print(error)", set()),
        ("# only a comment", set()),
    ],
)
def test_the_names_a_test_cell_reads_without_binding_them(source, names):
    assert student_names(source) == names


def test_a_name_the_cell_binds_anywhere_at_its_top_is_its_own():
    # the notebook may have its own `model`: the cell defines one, so it is not fetched
    source = "assert model is None or True\nmodel = build()\n"
    assert student_names(source) == {"build"}


def test_ipythons_syntax_is_read_as_ipython_runs_it():
    # a shell escape is a call of IPython's (the judge's shell has that name already)
    assert student_names("!ls\nassert ok") == {"get_ipython", "ok"}


def test_a_test_cells_cpu_budget_starts_from_what_was_used_within_the_hard_cap():
    code = (
        "import resource\n"
        "from course_utils.grading.judge import _cpu_budget\n"
        "_cpu_budget(30)\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_CPU)\n"
        "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "used = int(usage.ru_utime + usage.ru_stime) + 1\n"
        "assert used + 30 >= soft >= used - 1 + 30, (soft, used)\n"
        "assert hard == resource.RLIM_INFINITY\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (20, 20))\n"
        "_cpu_budget(1000)\n"
        "assert resource.getrlimit(resource.RLIMIT_CPU) == (20, 20)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_past_the_budget_the_test_stops_with_a_message(monkeypatch):
    monkeypatch.setitem(judge._settings, "cpu", 7)
    with pytest.raises(CPULimit, match="more than 7 s of CPU time"):
        judge._cpu_limit_reached()


def test_no_seed_means_keras_is_not_touched():
    assert judge._seed(None) is None  # returns without importing Keras


@pytest.fixture
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    monkeypatch.setattr(judge, "_kernel", None)
    monkeypatch.setattr(judge, "_settings", {})
    yield shell
    if judge._show_notes in shell.events.callbacks["pre_run_cell"]:
        shell.events.unregister("pre_run_cell", judge._show_notes)
    judge._notes.clear()


def test_the_judge_must_be_told_where_the_students_kernel_is(shell):
    with pytest.raises(RuntimeError, match="not told"):
        judge.prepare("assert True")


def test_each_test_starts_from_a_namespace_cleared_of_the_last_tests_names(shell):
    setup = {
        "connection": {
            "ip": "127.0.0.1",
            "transport": "tcp",
            "shell_port": 1,
            "hb_port": 2,
            "control_port": 3,
            "key": "k",
            "signature_scheme": "hmac-sha256",
        },
        "inbox": "/nonexistent/in",
        "outbox": "/nonexistent/out",
        "timeout": 5,
        "cpu": None,
        "seed": None,
    }
    shell.user_ns["left_by_last_test"] = 1
    shell.user_ns["__builtins__"] = shell.user_ns.get("__builtins__")
    judge.prepare("import math\nassert math.pi > 3", setup)  # reads nothing of the notebook
    assert "left_by_last_test" not in shell.user_ns
    assert "__builtins__" in shell.user_ns
    assert all(name in shell.user_ns for name in shell.user_ns_hidden if name != "_")
    assert judge._kernel is not None and judge._kernel.timeout == 5.0
    assert judge._settings == {"cpu": None, "seed": None}
    judge._notes.append("Note: one")
    judge._show_notes()
    assert judge._notes == []


NOTEBOOK = """
import numpy as np
images = np.arange(6).reshape(2, 3)
student = "ada"
big = 10 ** 4100  # more digits than the grader reads
def double(v):
    return v * 2
"""


def test_a_test_cell_gets_the_notebooks_names_it_reads_and_runs_with_them(shell, tmp_path, capsys):
    with student_kernel(tmp_path, NOTEBOOK) as km:
        setup = {
            "connection": connection(km),
            "inbox": str(tmp_path / "from-student"),
            "outbox": str(tmp_path / "to-student"),
            "timeout": 30,
            "cpu": None,
            "seed": None,
        }
        source = "doubled = double(images).tolist()\nname = student\ntoo_big = big\n"
        judge.prepare(source, setup)
        names = shell.user_ns
        assert names["images"].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert names["student"] == "ada"
        assert "doubled" not in names and "name" not in names  # the cell's own
        assert type(names["big"]).__name__ == "Unavailable"
        assert os.listdir(tmp_path / "from-student") == []  # the answer was removed
        shell.run_cell(source)
        assert names["doubled"] == [[0, 2, 4], [6, 8, 10]]  # ran in the student's kernel
        assert "Note: big could not be passed to the tests" in capsys.readouterr().out
        judge.prepare("assert student", None)  # the next test: a clean namespace
        assert "images" not in names and "doubled" not in names
        assert names["student"] == "ada"


def _after_importing_keras(code: str) -> subprocess.Popen[str]:
    probe = (
        f"{code}\nimport sys\n"
        f"print(sorted(n for n in {KERAS_OPTIONAL!r} if sys.modules.get(n) is not None))\n"
        "import keras, numpy, sklearn.metrics\n"  # a test may still import them itself
        "print(keras.layers.Dense(2)(numpy.ones((1, 3))).shape)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", probe],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_the_judge_imports_keras_without_the_libraries_keras_only_uses_if_present():
    runs = [
        _after_importing_keras(
            "from course_utils.grading.judge import import_keras\nimport_keras()"
        ),
        _after_importing_keras("import keras"),  # what Keras alone imports
    ]
    (judge, err), (plain, _) = (run.communicate(timeout=300) for run in runs)
    assert runs[0].returncode == 0, err
    assert judge.split("\n")[:2] == ["[]", "(1, 2)"]
    assert plain.split("\n")[0] == repr(sorted(KERAS_OPTIONAL))
