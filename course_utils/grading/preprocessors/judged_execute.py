"""`JudgedExecute`: the student's cells in the student's kernel, the test cells in a judge.

The kit's grader puts it in place of nbgrader's `Execute`. Each notebook's kernel gets a fresh
folder of its own under ``kernels`` (see `course_utils.grading.sandbox`): ``work/`` (a copy of
the submission's other files, without the notebook), ``sockets/`` (its ZeroMQ sockets: it has
no network), and the bridge's ``from-student/`` and ``to-student/``. The kernel starts through
the sandbox launcher, so nothing it writes reaches ``autograded/`` or feedback.

A second kernel, the judge (`course_utils.grading.judge`), starts beside it through the same
launcher, in a sandbox of its own (``judge_settings``: as root its own user; its own memory,
control group and CPU limit; no network): it sees the kit, the data, the student's sockets
(read-only), its answers (to read and delete) and its arguments' folder, nothing else. The
bridge's folders belong to the judge's group: it reaches the student's sockets, reads answers.
Each test cell, recognised by its grade id and its source matching the gradebook's, runs in the
judge after `judge.prepare` has fetched the notebook names it reads; its outputs are the ones
nbgrader scores. Every other cell runs in the student's kernel. A judge that dies or hangs
costs only the test it was running: that test fails with a line saying so, and a fresh judge
takes the next one.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from traitlets import Dict, Integer, Unicode

from course_utils import settings
from course_utils.grading.isolation import unmount_below
from course_utils.grading.kernel_folders import (
    copy_other_files,
    judge_folder,
    kernel_folder,
    uid_of,
)
from course_utils.grading.kernel_ready import ready
from course_utils.grading.preprocessors.guarded_execute import GuardedExecute, error_output
from course_utils.grading.preprocessors.restore_tests import gradebook_tests
from course_utils.grading.sandbox import Settings, kernel_spec

JUDGE_KERNEL = "course-kit-judge"
#: the judge's first code: Keras, lighter (`judge.import_keras`), and the names tests expect
JUDGE_START = "import course_utils.grading.judge as j\nj.import_keras()\ndel j\nimport keras, numpy"
#: judges started for one notebook at most (each break costs one test and starts a new one)
MAX_JUDGES = 8


class JudgedExecute(GuardedExecute):
    """Run the student's cells in the student's kernel and the test cells in a judge."""

    kernels = Unicode(
        "", help="Folder where each kernel gets a folder of its own; empty: the notebook's."
    ).tag(config=True)
    judge_folder = Unicode(
        "", help="Private folder for the judge (home, sockets, bridge); empty: no judge."
    ).tag(config=True)
    judge_settings = Dict(
        {},
        help="The sandbox launcher's settings for the judge (`Settings`: its user, memory "
        "budget, control groups, CPU limit), in place of the student kernel's.",
    ).tag(config=True)
    judge_memory_note = Unicode(
        "", help="How the judge's memory is limited, said when the judge dies."
    ).tag(config=True)
    request_timeout = Integer(
        settings.REQUEST_TIMEOUT.default,
        help="Seconds the judge waits for one answer of the student's kernel.",
    ).tag(config=True)

    def preprocess(
        self,
        nb: NotebookNode,
        resources: ResourcesDict | None = None,
        km: KernelManager | None = None,
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Run the notebook; test cells in the judge when a judge folder is set."""
        given = ResourcesDict() if resources is None else resources  # nbgrader always gives them
        self._tests = gradebook_tests(given) if self.judge_folder else {}
        self._judge_km: AsyncKernelManager | None = None
        self._judge_kc: AsyncKernelClient | None = None
        self._judge_ready = False
        self._folder: Path | None = None
        self._judges = 0
        if self.kernels:
            student = uid_of(dict(os.environ))
            judge = uid_of(self.judge_settings) if self.judge_folder else None
            self._folder = kernel_folder(Path(self.kernels), student, judge)
            copy_other_files(Path(given["metadata"]["path"]), self._folder / "work")
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            self._stop_judge()
            if self._folder is not None:
                unmount_below(self._folder)

    def start_new_kernel(self, **kwargs: Any) -> None:
        """Start the student's kernel in its own folder, then the judge beside it."""
        if self._folder is not None:
            kwargs["cwd"] = str(self._folder / "work")
            kwargs["env"] = {**os.environ, Settings.FOLDER: str(self._folder)}
            if self.km is not None:  # Unix sockets: the kernel has no network
                self.km.transport = "ipc"
                self.km.ip = str(self._folder / "sockets" / "kernel")
        super().start_new_kernel(**kwargs)
        if self.judge_folder:
            self._start_judge()

    def _start_judge(self) -> None:
        """Start a judge in a fresh folder, through the sandbox launcher, with its settings."""
        if self._folder is None:
            raise RuntimeError("the judge needs JudgedExecute.kernels: the bridge's folders")
        folder = judge_folder(Path(self.judge_folder), uid_of(self.judge_settings))
        kernel_spec(folder / "jupyter", name=JUDGE_KERNEL)
        bridge = self._folder
        env = {k: v for k, v in os.environ.items() if k not in Settings.ALL}
        env.update({k: str(v) for k, v in self.judge_settings.items()})
        env.update(
            {
                Settings.FOLDER: str(folder),
                Settings.ROLE: "judge",
                # it writes its arguments, and deletes each answer once read
                Settings.WRITABLE: os.pathsep.join(
                    str(bridge / name) for name in ("to-student", "from-student")
                ),
                Settings.READONLY: str(bridge / "sockets"),
            }
        )
        km = AsyncKernelManager(
            kernel_name=JUDGE_KERNEL,
            kernel_spec_manager=KernelSpecManager(
                kernel_dirs=[str(folder / "jupyter" / "kernels")]
            ),
            transport="ipc",
            ip=str(folder / "sockets" / "judge"),
            connection_file=str(folder / "judge.json"),
        )
        run_sync(km.start_kernel)(cwd=str(folder / "work"), env=env)
        self._judges += 1
        self._judge_km = km
        self._judge_kc = km.client()
        self._judge_kc.start_channels()
        self._judge_ready = False
        # Imports overlap with the student's first cells; replies are matched by message id.
        self._judge_kc.execute(JUDGE_START, silent=True)

    async def _async_stop_judge(self) -> None:
        km, kc = self._judge_km, self._judge_kc
        self._judge_km = self._judge_kc = None
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            try:
                await km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 (already gone)
                pass

    _stop_judge = run_sync(_async_stop_judge)

    async def _async_cleanup_kernel(self) -> None:
        """Stop the student's kernel and the judge at once (each stop waits for its end)."""
        await asyncio.gather(super()._async_cleanup_kernel(), self._async_stop_judge())

    def _bridge(self, student: AsyncKernelManager) -> dict[str, Any]:
        """The judge's first request: how to reach the student's kernel, the bridge's folders."""
        folder = self._folder
        if folder is None:
            raise RuntimeError("the judge needs JudgedExecute.kernels: the bridge's folders")
        inbox, outbox = folder / "from-student", folder / "to-student"
        info = student.get_connection_info()
        info["key"] = info["key"].decode()  # type: ignore[attr-defined]  # bytes, typed str
        return {
            "connection": info,
            "inbox": str(inbox),
            "outbox": str(outbox),
            "timeout": self.request_timeout,
            # CPU seconds per test: its cell's time limit on all the kernel's threads
            "cpu": int(self._cell_timeout or self.submission_timeout) * self._threads(),
            "seed": self.seed,
        }

    def _threads(self) -> int:
        try:
            return max(1, int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 1))
        except ValueError:
            return 1

    def _judged(self, cell: NotebookNode) -> bool:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return (
            cell.cell_type == "code"
            and bool(self.judge_folder)
            and grade_id in self._tests
            and cell.source == self._tests[grade_id]
        )

    def _prepare(self, cell: NotebookNode, student: AsyncKernelManager) -> str | None:
        """Ask the judge to fetch the cell's names; an error message if that failed."""
        setup = None
        kc = self._judge_kc
        if kc is None:
            raise RuntimeError("the judge is not running")
        if not self._judge_ready:
            run_sync(ready)(kc, self.startup_timeout)
            setup = self._bridge(student)
            self._judge_ready = True
        code = (
            "__import__('course_utils.grading.judge', fromlist=['prepare'])"
            f".prepare({cell.source!r}, {setup!r})"
        )
        start = time.monotonic()
        msg_id = kc.execute(code, silent=True, store_history=False)
        reply = self.wait_for_reply(msg_id)
        self.log.info(
            "Judge: %s's names fetched in %.1f s",
            cell.metadata.nbgrader["grade_id"],
            time.monotonic() - start,
        )
        if reply is None:
            return "the grader could not fetch this test's values in time"
        content = reply["content"]
        if content.get("status") != "ok":
            return f"{content.get('ename')}: {content.get('evalue')}"
        return None

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        """A test cell runs in the judge; every other cell in the student's kernel."""
        if not self._judged(cell):
            return super().preprocess_cell(cell, resources, index)
        if self._stopped is not None:
            return self._not_run(cell), resources
        if not self._seeded:  # the student's kernel, even when a test cell comes first
            self._seed_kernel()
        if self._judge_km is None or self._judge_kc is None:  # never in the student's kernel
            cell.outputs = [error_output("GraderError", "the grader's judge could not start")]
            cell.execution_count = None
            return cell, resources
        student = self.km, self.kc
        self.km, self.kc = self._judge_km, self._judge_kc
        note = self.memory_note
        self.memory_note = self.judge_memory_note
        try:
            problem = self._prepare(cell, student[0])
            if problem is not None:
                cell.outputs = [error_output("GraderError", problem)]
                cell.execution_count = None
                return cell, resources
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, RuntimeError):  # the judge died before or while fetching
            self._stopped = "the judge stopped"
            cell.outputs = []
        finally:
            self.km, self.kc = student
            self.memory_note = note
        if self._stopped is not None:  # the judge broke, not the student's kernel
            self._stopped = None
            self._judge_broke(cell)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            run_sync(self.km.interrupt_kernel)()  # the student's function may still be running
        if self._stopped is None and not run_sync(self.km.is_alive)():
            self._stopped = "the kernel stopped in an earlier cell"
        return cell, resources

    def _judge_broke(self, cell: NotebookNode) -> None:
        """The judge died or hung on this test: say so in the cell, start a fresh judge."""
        alive = self._judge_km is not None and run_sync(self._judge_km.is_alive)()
        limit = f" (its memory is limited to {self.judge_memory_note})"
        why = (
            "the grader's judge did not stop when this test ran out of time"
            if alive
            else "the grader's judge stopped while it ran this test: the values it was given "
            f"made it crash or run out of memory{limit if self.judge_memory_note else ''}"
        )
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        cell.outputs.append(error_output("JudgeStopped", why))
        cell.execution_count = None
        self.log.warning("Judge: %s; starting a fresh one", why)
        self._stop_judge()
        if self._judges < MAX_JUDGES:
            try:
                self._start_judge()
            except Exception as error:  # noqa: BLE001 (the next tests say the judge is gone)
                self.log.error("Judge: a fresh judge could not start: %s", error)
                self._stop_judge()
