"""The judge: the kernel where the kit's grader runs test cells, apart from the student's code.

No student code runs in this process. Before each test cell, the grader calls `prepare` with
the cell's source: the judge clears the names earlier test cells left, finds the names this
cell reads without defining them (`student_names`: not builtins, not its own imports or
assignments) and fetches those the notebook defines through the bridge
(`course_utils.grading.bridge`): data as data, functions as stubs that run in the student's
kernel, anything else as an opaque value. Then the grader runs the cell here, and its outputs
are the ones nbgrader scores.

The student's kernel receives requests for names and calls with arguments, never a test's
source. Settings such as ``LAB_EPOCHS`` come from the grader's environment, through the
sandbox's allow-list; the student's environment does not reach it.

This process runs in a sandbox of its own (`course_utils.grading.sandbox`), with its own memory
budget. Each test (its `prepare` and its cell) also gets a CPU-time budget: past it, the test
stops with `TestCPULimit`, and the next test gets a fresh budget. Each test starts from the
grader's seed.
"""

from __future__ import annotations

import builtins
import resource
import signal
import symtable
import sys
from typing import Any

from course_utils.grading import reuse
from course_utils.grading.bridge import StudentKernel
from course_utils.grading.values import NOTES, Models, decode, opaque
from course_utils.grading.wire import Refused

#: Libraries Keras uses only where they are installed (pandas for its data frames, matplotlib
#: for its image plots, scikit-learn for its wrappers), and that no value reaching the judge
#: needs: the bridge's values are arrays and models. Importing Keras without them makes the
#: judge's start over 2 s of CPU shorter; a test that wants one still imports it.
KERAS_OPTIONAL = ("pandas", "matplotlib", "sklearn")

_kernel: StudentKernel | None = None
_notes: list[str] = []
_settings: dict[str, Any] = {}


class TestCPULimit(Exception):
    """A test used more CPU time than one test may."""


def _cpu_limit_reached(*_: Any) -> None:
    raise TestCPULimit(f"this test used more than {_settings.get('cpu')} s of CPU time")


def _cpu_budget(seconds: int) -> None:
    """Let the next test use `seconds` of CPU time from now (within the launcher's hard cap)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def import_keras() -> None:
    """Import Keras (the judge's first step) without `KERAS_OPTIONAL`, then let tests import
    those themselves."""
    held = [name for name in KERAS_OPTIONAL if name not in sys.modules]
    for name in held:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "cannot import"
    try:
        import keras  # noqa: F401
    finally:
        for name in held:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _seed(seed: int | None) -> None:
    if seed is None:
        return
    import keras

    keras.utils.set_random_seed(int(seed))


def student_names(source: str) -> set[str]:
    """The names a test cell reads but never binds itself, builtins excluded.

    A name the cell imports, assigns, or defines (anywhere at its top level) is the cell's own,
    even where the notebook has one of the same name.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(source)
    top = symtable.symtable(code, "<test cell>", "exec")
    bound = {
        s.get_name()
        for s in top.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    wanted: set[str] = set()
    tables = [(top, True)]
    while tables:
        table, is_top = tables.pop()
        for s in table.get_symbols():
            if s.is_referenced() and (is_top or s.is_global()):
                wanted.add(s.get_name())
        tables.extend((child, False) for child in table.get_children())
    return wanted - bound - set(dir(builtins))


def _show_notes(*_: Any) -> None:
    """Print, at the start of the test cell, what could not be passed to it."""
    for note in _notes:
        print(note)
    _notes.clear()


def prepare(source: str, setup: dict[str, Any] | None = None) -> None:
    """Give the next test cell a clean namespace holding the notebook's names it reads.

    Args:
        source: the test cell's source (it stays in this process).
        setup: on the first call, the student kernel's connection information and the
            bridge's folders (``connection``, ``inbox``, ``outbox``), the seconds one request
            may wait (``timeout``), the CPU seconds one test may use (``cpu``), the ``seed``.
    """
    global _kernel
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("the judge runs in an IPython kernel")
    if _kernel is None:
        if setup is None:
            raise RuntimeError("the judge was not told where the student's kernel is")
        setup = dict(setup)
        _settings.update(cpu=setup.pop("cpu", None), seed=setup.pop("seed", None))
        _kernel = StudentKernel(**setup)
        shell.events.register("pre_run_cell", _show_notes)
        if _settings["cpu"]:
            signal.signal(signal.SIGXCPU, _cpu_limit_reached)
    if _settings.get("cpu"):
        _cpu_budget(int(_settings["cpu"]))
    _seed(_settings.get("seed"))
    names, hidden = shell.user_ns, shell.user_ns_hidden
    for name in list(names):
        if name not in hidden and not name.startswith("__"):
            del names[name]
    reuse.new_test()  # no test holds the models given to earlier ones
    _notes.clear()
    wanted = sorted(student_names(source) - set(hidden))
    if not wanted:
        return
    manifest, answer = _kernel.request("get", names=wanted)
    try:
        values = manifest.get("values")
        if not isinstance(values, dict):
            raise Refused("the notebook's kernel answered with something else than its names")
        models: Models = {}
        for name in wanted:
            if name not in values:
                continue
            try:
                names[name] = decode(values[name], answer, _kernel, models)
            except Exception as error:  # noqa: BLE001 (any failure: the name is unusable)
                why = f"{name} could not be passed to the tests: {error}"
                names[name] = opaque("value", "Unavailable", None, why)
                _notes.append(f"Note: {why}")
    finally:
        answer.remove()
        _notes.extend(NOTES)
        NOTES.clear()
