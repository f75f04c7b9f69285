"""`JudgedExecute`: the student's cells in the student's kernel, the test cells in a judge.

The kit's grader puts it in place of nbgrader's `Execute`. Each notebook's kernel gets a fresh
folder of its own under ``kernels`` (see `course_utils.grading.sandbox`): ``work/`` (a copy of
the submission's other files, without the notebook), ``sockets/`` (its ZeroMQ sockets: it has
no network), and the bridge's ``from-student/`` and ``to-student/``. The kernel starts through
the sandbox launcher, so nothing it writes reaches ``autograded/`` or feedback. A second
kernel, the judge (`course_utils.grading.judge`), starts beside it: private sockets, a private
folder, an environment from the kit's allow-list. Each test cell, recognised by its grade id
and its source matching the gradebook's, runs in the judge after `judge.prepare` has fetched
the notebook names it reads; its outputs are the ones nbgrader scores. Every other cell runs in
the student's kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from traitlets import Unicode

from course_utils.grading.isolation import mount_tmpfs, unmount_below
from course_utils.grading.preprocessors.guarded_execute import GuardedExecute, error_output
from course_utils.grading.sandbox import Settings, kernel_environment

JUDGE_KERNEL = "course-kit-judge"


def gradebook_tests(resources: ResourcesDict) -> dict[str, str]:
    """The notebook's autograded test cells in the gradebook: grade id -> source."""
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gradebook:
        notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
        sources = {cell.name: cell for cell in notebook.source_cells}
        return {
            cell.name: sources[cell.name].source
            for cell in notebook.grade_cells
            if cell.cell_type == "code" and cell.name in sources
        }


def _copy_other_files(source: Path, target: Path) -> None:
    """The submission's plain files and folders except notebooks (no links, no devices)."""
    for entry in os.scandir(source):
        if entry.is_symlink() or entry.name.endswith(".ipynb"):
            continue
        if entry.is_dir(follow_symlinks=False):
            (target / entry.name).mkdir(exist_ok=True)
            _copy_other_files(Path(entry.path), target / entry.name)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, target / entry.name, follow_symlinks=False)


def _kernel_folder(parent: Path) -> Path:
    """A fresh folder for one kernel: made by the grader, its parts given to the kernel's user.

    ``work/`` and ``to-student/`` stay the grader's (the sandbox copies ``work/`` into a tmpfs;
    the kernel only reads ``to-student/``); ``sockets/`` and ``from-student/`` are the kernel's.
    """
    parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    number = sum(1 for _ in parent.iterdir())
    folder = parent / str(number)
    folder.mkdir(mode=0o711)
    uid = os.environ.get(Settings.UID)
    for name, mode, kernel_owns in (
        ("work", 0o700, False),
        ("sockets", 0o700, True),
        ("from-student", 0o700, True),
        ("to-student", 0o755, False),
    ):
        (folder / name).mkdir(mode=mode)
        os.chmod(folder / name, mode)
        if kernel_owns and uid and os.geteuid() == 0:
            os.chown(folder / name, int(uid), int(uid))
    if uid and os.environ.get(Settings.ISOLATE):  # as root: what the kernel writes is a tmpfs
        mount_tmpfs(folder / "sockets", 1 << 20, int(uid))
        size = int(os.environ.get(Settings.TMPFS) or 1 << 30)
        mount_tmpfs(folder / "from-student", size, int(uid))
    return folder


class JudgedExecute(GuardedExecute):
    """Run the student's cells in the student's kernel and the test cells in a judge."""

    kernels = Unicode(
        "", help="Folder where each kernel gets a folder of its own; empty: the notebook's."
    ).tag(config=True)
    judge_folder = Unicode(
        "", help="Private folder for the judge (home, sockets, bridge); empty: no judge."
    ).tag(config=True)

    def preprocess(
        self,
        nb: NotebookNode,
        resources: ResourcesDict | None = None,
        km: AsyncKernelManager | None = None,
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Run the notebook; test cells in the judge when a judge folder is set."""
        self._tests = gradebook_tests(resources) if self.judge_folder else {}
        self._judge_km = self._judge_kc = None
        self._judge_ready = False
        self._folder = None
        if self.kernels:
            self._folder = _kernel_folder(Path(self.kernels))
            _copy_other_files(Path(resources["metadata"]["path"]), self._folder / "work")
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
        folder = Path(self.judge_folder)
        home, spec = folder / "home", folder / "kernels" / JUDGE_KERNEL
        for path in (home, spec, folder / "cwd", folder / "sockets"):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec.joinpath("kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "judge", "language": "python"})
        )
        env = kernel_environment(str(home), str(home), os.environ.get(Settings.DATA))
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        km = AsyncKernelManager(
            kernel_name=JUDGE_KERNEL,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder / "kernels")]),
            transport="ipc",
            ip=str(folder / "sockets" / "judge"),
            connection_file=str(folder / "judge.json"),
        )
        run_sync(km.start_kernel)(cwd=str(folder / "cwd"), env=env)
        self._judge_km = km
        self._judge_kc = km.client()
        self._judge_kc.start_channels()
        # Imports overlap with the student's first cells; replies are matched by message id.
        self._judge_kc.execute("import keras, numpy, course_utils.grading.judge", silent=True)

    def _stop_judge(self) -> None:
        if self._judge_kc is not None:
            self._judge_kc.stop_channels()
        if self._judge_km is not None:
            try:
                run_sync(self._judge_km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 (already gone)
                pass
        self._judge_km = self._judge_kc = None

    def _bridge(self, student: AsyncKernelManager) -> dict:
        """The judge's first request: how to reach the student's kernel, the bridge's folders."""
        folder = self._folder
        if folder is None:
            raise RuntimeError("the judge needs JudgedExecute.kernels: the bridge's folders")
        inbox, outbox = folder / "from-student", folder / "to-student"
        info = student.get_connection_info()
        info["key"] = info["key"].decode()
        return {
            "connection": info,
            "inbox": str(inbox),
            "outbox": str(outbox),
        }

    def _judged(self, cell: NotebookNode) -> bool:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return (
            cell.cell_type == "code"
            and self._judge_kc is not None
            and grade_id in self._tests
            and cell.source == self._tests[grade_id]
        )

    def _prepare(self, cell: NotebookNode, student: AsyncKernelManager) -> str | None:
        """Ask the judge to fetch the cell's names; an error message if that failed."""
        setup = None
        if not self._judge_ready:
            run_sync(self._judge_kc.wait_for_ready)(timeout=self.startup_timeout)
            setup = self._bridge(student)
            self._judge_ready = True
        code = (
            "__import__('course_utils.grading.judge', fromlist=['prepare'])"
            f".prepare({cell.source!r}, {setup!r})"
        )
        start = time.monotonic()
        msg_id = self._judge_kc.execute(code, silent=True, store_history=False)
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
        student = self.km, self.kc
        self.km, self.kc = self._judge_km, self._judge_kc
        try:
            problem = self._prepare(cell, student[0])
            if problem is not None:
                cell.outputs = [error_output("GraderError", problem)]
                cell.execution_count = None
                return cell, resources
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            self.km, self.kc = student
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            run_sync(self.km.interrupt_kernel)()  # the student's function may still be running
        if self._stopped is None and not run_sync(self.km.is_alive)():
            self._stopped = "the kernel stopped in an earlier cell"
        return cell, resources
