"""`GuardedExecute`: output capped per cell, a dead kernel said so, the cells after it not run."""

from __future__ import annotations

import threading
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading import cores
from course_utils.grading.preprocessors import GuardedExecute
from course_utils.grading.preprocessors.guarded_execute import SEED_CODE, error_output


def test_an_error_output_is_just_its_name_and_message():
    out = error_output("KernelDied", "it stopped")
    assert out.output_type == "error"
    assert (out.ename, out.evalue) == ("KernelDied", "it stopped")
    assert out.traceback == ["KernelDied: it stopped"]
    nbformat.validate(new_notebook(cells=[new_code_cell("x", outputs=[out])]))


def test_the_seeding_code_is_python_and_leaves_no_name():
    code = SEED_CODE.format(seed=123)
    compile(code, "<seed>", "exec")
    assert "_course_kit_seed(123)" in code
    assert code.rstrip().endswith("del _course_kit_seed")
    for library in ("random.seed(seed)", "numpy.random.seed(seed)", "set_random_seed(seed)"):
        assert library in code


def test_a_cell_that_floods_or_kills_its_kernel_is_graded_and_the_rest_not_run(tmp_path):
    cells = [
        new_markdown_cell("# Lab"),
        new_code_cell(
            "print('a' * 600, flush=True)\nprint('b' * 600, flush=True)\nprint('c' * 9, flush=True)"
        ),
        new_code_cell("import os\nos._exit(3)"),
        new_code_cell("print('never')"),
        new_markdown_cell("the end"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    executor = GuardedExecute(
        seed=None, max_output_bytes=1000, timeout=60, submission_timeout=120, memory_note="2 GiB"
    )
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    nbformat.validate(nb)
    flood, died, after = nb.cells[1], nb.cells[2], nb.cells[3]
    text = "".join(o.get("text", "") for o in flood.outputs)
    assert "a" * 600 in text
    assert "b" * 600 not in text and "c" * 9 not in text  # 601 + 10 bytes dropped
    note = flood.outputs[-1].text
    assert "611 bytes of output were not kept" in note and "1,000 per cell" in note
    assert died.outputs[-1].ename == "KernelDied"
    assert "2 GiB" in died.outputs[-1].evalue
    assert [o.ename for o in after.outputs] == ["NotRun"]
    assert "stopped in an earlier cell" in after.outputs[0].evalue
    assert after.execution_count is None
    assert nb.cells[4].source == "the end" and "outputs" not in nb.cells[4]


def _exit_handler_ran(tmp_path, **settings) -> bool:
    mark = tmp_path / "exit-handler-ran"
    code = f"import atexit, pathlib\natexit.register(pathlib.Path({str(mark)!r}).touch)"
    nb = new_notebook(cells=[new_code_cell(code)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    executor = GuardedExecute(seed=None, timeout=60, submission_timeout=120, **settings)
    executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return mark.exists()


def test_the_kernel_is_killed_after_the_last_cell_and_its_exit_handlers_never_run(tmp_path):
    assert GuardedExecute().shutdown_kernel == "immediate"
    assert not _exit_handler_ran(tmp_path)
    assert _exit_handler_ran(tmp_path, shutdown_kernel="graceful")  # what a graceful stop does


def test_the_notebook_waits_for_a_core_and_its_time_limit_counts_from_then(tmp_path):
    folder = cores.folder(1)
    taken = cores.hold(folder)
    freed: list[float] = []

    def free() -> None:
        freed.append(time.time())
        cores.let_go(taken)

    code = (
        "import time\nfrom course_utils.grading import cores\n"
        f"began = time.time()\nprint(began, cores.hold({folder!r}, stop=0) is None)"
    )
    nb = new_notebook(cells=[new_code_cell(code)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    timer = threading.Timer(2.2, free)
    timer.start()
    try:  # counted from the start, the wait would leave under the last second of its 3 s
        executor = GuardedExecute(seed=None, timeout=60, submission_timeout=3, core_folder=folder)
        nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    finally:
        timer.cancel()
    began, busy = nb.cells[0].outputs[0].text.split()
    assert freed and float(began) >= freed[0]  # it ran once the core was free
    assert busy == "True"  # and held the core while it ran
    again = cores.hold(folder, stop=0)  # given back after the last cell
    assert again is not None
    cores.let_go(again)
