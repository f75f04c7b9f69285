"""`GuardedExecute`: nbgrader's `Execute`, bounded in time and output, graded past a dead kernel.

A notebook that kills its kernel, runs past its time or floods its output is still graded with
what it earned: the cell that broke things gets an error that says what happened, and the
cells after it are marked as not run (an unrun test cell would otherwise count as passed).

Before the notebook's first cell, the kernel's random numbers are seeded (`seed`: Python's,
NumPy's, and Keras's with its backend's), whatever the notebook's own cells say: the same
submission trains the same network every time it is graded. A notebook that seeds again
itself makes that choice on its own.

With `core_folder` set, the notebook waits for one of its grading process's cores
(`cores.hold`) once its kernels are ready, and gives it back after its last cell: the notebook's
time limit counts from when it has one.

The kernel counts as started once it answered and its outputs are heard
(`course_utils.grading.kernel_ready`), without Jupyter's fixed 0.2 s wait after that.
"""

from __future__ import annotations

import time
from typing import Any

from jupyter_client import AsyncKernelClient, AsyncKernelManager, KernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_hook
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer, Unicode

from course_utils import settings
from course_utils.grading import cores
from course_utils.grading.kernel_ready import ready

TEXT_TYPES = {"stream", "display_data", "execute_result", "update_display_data"}

#: Run silently in the student's kernel before its first cell (no name is left behind).
SEED_CODE = """\
def _course_kit_seed(seed):
    import importlib.util, random
    random.seed(seed)
    if importlib.util.find_spec("numpy"):
        import numpy
        numpy.random.seed(seed)
    if importlib.util.find_spec("keras"):
        import keras
        keras.utils.set_random_seed(seed)
_course_kit_seed({seed})
del _course_kit_seed
"""


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output whose traceback is just ``ename: evalue``."""
    out: NotebookNode = new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )
    return out


class GuardedExecute(Execute):
    """nbgrader's `Execute`, bounded in time and output, and graded past a dead kernel."""

    # nbclient's: seconds per cell (None: no limit); the kernel, set while the notebook runs
    timeout: int | None
    km: AsyncKernelManager
    kc: AsyncKernelClient

    shutdown_kernel = Enum(
        ["graceful", "immediate"],
        default_value="immediate",
        help="How the kernel stops after the last cell. Immediately (killed, with its sandbox): "
        "a graded kernel has nothing to save, and a graceful stop waited about 3 s for "
        "TensorFlow's exit, and ran the notebook's own exit handlers.",
    ).tag(config=True)
    submission_timeout = Integer(
        settings.SUBMISSION_TIMEOUT.default,
        help="Seconds the whole notebook may run; cells after that are not run.",
    ).tag(config=True)
    max_output_bytes = Integer(
        settings.MAX_OUTPUT.default, help="Output kept per cell; the rest is dropped and counted."
    ).tag(config=True)
    memory_note = Unicode(
        "", help="How the kernel's memory is limited, said when a kernel dies."
    ).tag(config=True)
    seed = Integer(
        settings.SEED.default,
        allow_none=True,
        help="Seed of Python's, NumPy's and Keras's random numbers, set before the first "
        "cell; None: not seeded.",
    ).tag(config=True)
    core_folder = Unicode(
        "", help="The grading process's folder of cores (`cores.folder`); empty: no limit."
    ).tag(config=True)

    def preprocess(
        self,
        nb: NotebookNode,
        resources: ResourcesDict | None = None,
        km: KernelManager | None = None,
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Run the notebook, with the whole-notebook deadline counted from now."""
        self._deadline = time.monotonic() + self.submission_timeout
        self._cell_timeout = self.timeout
        self._stopped: str | None = None
        self._sizes: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        self._seeded = self.seed is None
        self._core: int | None = None
        self._waited = not self.core_folder
        try:
            done: tuple[NotebookNode, ResourcesDict] = super().preprocess(nb, resources, km=km)
        finally:
            cores.let_go(self._core)
            self._core = None
        return done

    async def async_start_new_kernel_client(self) -> AsyncKernelClient:
        """nbclient's, with `kernel_ready.ready` in place of Jupyter's `wait_for_ready`."""
        self.kc = self.km.client()
        try:
            self.kc.start_channels()
            await ready(self.kc, self.startup_timeout)
        except Exception as error:
            self.log.error("The notebook's kernel did not start: %s", error)
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _take_a_core(self) -> None:
        """Wait for a core (once, before the first cell); the time limit counts from now."""
        self._waited = True
        start = time.monotonic()
        self._core = cores.hold(self.core_folder, stop=start + self.submission_timeout)
        now = time.monotonic()
        if self._core is None:
            self.log.warning("No core came free in %.0f s: running beside the others", now - start)
        else:
            self.log.info("Waited %.1f s for a core", now - start)
        self._deadline = now + self.submission_timeout

    def _seed_kernel(self) -> None:
        """Seed the student's kernel (once, before its first cell)."""
        self._seeded = True
        if self.seed is None:
            return
        start = time.monotonic()
        msg_id = self.kc.execute(
            SEED_CODE.format(seed=int(self.seed)), silent=True, store_history=False
        )
        reply = self.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":  # the submission's own files shadow a library
            why = f"{content.get('ename')}: {content.get('evalue')}" if content else "no reply"
            self.log.warning("The kernel could not be seeded (%s)", why)
            return
        self.log.info("Seeded the kernel with %d in %.1f s", self.seed, time.monotonic() - start)

    def _not_run(self, cell: NotebookNode) -> NotebookNode:
        cell.outputs = [error_output("NotRun", f"not run: {self._stopped}")]
        cell.execution_count = None
        return cell

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Run one cell within what time is left, or mark it not run once something broke."""
        if cell.cell_type != "code":
            return cell, resources
        if not self._waited:
            self._take_a_core()
        remaining = self._deadline - time.monotonic()
        if self._stopped is None and remaining < 1:
            self._stopped = (
                f"the notebook ran out of time (the limit is {self.submission_timeout} s in all)"
            )
        if self._stopped is not None:
            return self._not_run(cell), resources
        self.timeout = int(max(1, min(self._cell_timeout or remaining, remaining)))
        try:
            if not self._seeded:
                self._seed_kernel()
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            # The kernel was interrupted at the time limit and did not stop (the cell catches
            # KeyboardInterrupt, or is stuck in native code): nothing more can run in it.
            self._stopped = "the kernel did not stop after an earlier cell ran out of time"
            cell.outputs.append(
                error_output(
                    "CellTimeoutError",
                    f"this cell ran longer than {self.timeout} s and did not stop when interrupted",
                )
            )
        except DeadKernelError:
            self._stopped = "the kernel stopped in an earlier cell"
            note = f" (its memory is limited to {self.memory_note})" if self.memory_note else ""
            cell.outputs.append(
                error_output(
                    "KernelDied",
                    "the kernel stopped while this cell ran: the code exited the process, crashed "
                    f"or was killed{note}",
                )
            )
        dropped = self._dropped.pop(index, 0)
        if dropped:
            cell.outputs.append(
                new_output(
                    "stream",
                    name="stdout",
                    text=f"\n[{dropped:,} bytes of output were not kept: the limit is "
                    f"{self.max_output_bytes:,} per cell]\n",
                )
            )
        return cell, resources

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        """Keep an output while the cell's total stays under the cap; count what is dropped."""
        if msg["msg_type"] in TEXT_TYPES:
            content = msg["content"]
            size = len(str(content.get("text", ""))) + len(str(content.get("data", "")))
            used = self._sizes.get(cell_index, 0) + size
            self._sizes[cell_index] = used
            if used > self.max_output_bytes:
                self._dropped[cell_index] = self._dropped.get(cell_index, 0) + size
                return None
        kept: NotebookNode | None = super().output(outs, msg, display_id, cell_index)
        return kept
