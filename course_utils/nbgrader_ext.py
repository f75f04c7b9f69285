"""Two nbgrader preprocessors the course uses when it grades.

`GuardedExecute` replaces nbgrader's `Execute` while autograding (the grader,
`course_utils.grade`, configures it). A notebook that kills its kernel, runs past its time or
floods its output is still graded with what it earned: the cell that broke things gets an error
that says what happened, and the cells after it are marked as not run (an unrun test cell would
otherwise count as passed).

`HideHiddenTests` runs when nbgrader makes feedback (the course's ``nbgrader_config.py`` adds it
to ``GenerateFeedback.preprocessors``): the hidden part of every test cell is removed from its
source, tracebacks of test cells are cut to the exception and its message, and no output
anywhere in the notebook may repeat a line of a hidden test.
"""

from __future__ import annotations

import re
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

TEXT_TYPES = {"stream", "display_data", "execute_result", "update_display_data"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _is_test(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class GuardedExecute(Execute):
    """nbgrader's `Execute`, bounded in time and output, and graded past a dead kernel."""

    submission_timeout = Integer(
        3600, help="Seconds the whole notebook may run; cells after that are not run."
    ).tag(config=True)
    max_output_bytes = Integer(
        200_000, help="Output kept per cell; the rest is dropped and counted."
    ).tag(config=True)
    memory_note = Unicode(
        "", help="How the kernel's memory is limited, said when a kernel dies."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.submission_timeout
        self._cell_timeout = self.timeout
        self._stopped: str | None = None
        self._sizes: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        return super().preprocess(nb, resources, km=km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped is None:
            remaining = self._deadline - time.monotonic()
            if remaining < 1:
                self._stopped = (
                    f"the notebook ran out of time (the limit is {self.submission_timeout} s in all)"
                )
        if self._stopped is not None:
            cell.outputs = [_error("NotRun", f"not run: {self._stopped}")]
            cell.execution_count = None
            return cell, resources
        self.timeout = int(max(1, min(self._cell_timeout or remaining, remaining)))
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            # The kernel was interrupted at the time limit and did not stop (the cell catches
            # KeyboardInterrupt, or is stuck in native code): nothing more can run in it.
            self._stopped = "the kernel did not stop after an earlier cell ran out of time"
            cell.outputs.append(_error(
                "CellTimeoutError",
                f"this cell ran longer than {self.timeout} s and did not stop when interrupted",
            ))
        except DeadKernelError:
            self._stopped = "the kernel stopped in an earlier cell"
            note = f" (its memory is limited to {self.memory_note})" if self.memory_note else ""
            cell.outputs.append(_error(
                "KernelDied",
                "the kernel stopped while this cell ran: the code exited the process, crashed "
                f"or was killed{note}",
            ))
        dropped = self._dropped.pop(index, 0)
        if dropped:
            cell.outputs.append(new_output(
                "stream", name="stdout",
                text=f"\n[{dropped:,} bytes of output were not kept: the limit is "
                     f"{self.max_output_bytes:,} per cell]\n",
            ))
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] in TEXT_TYPES:
            size = len(str(msg["content"].get("text", ""))) + len(str(msg["content"].get("data", "")))
            used = self._sizes.get(cell_index, 0) + size
            self._sizes[cell_index] = used
            if used > self.max_output_bytes:
                self._dropped[cell_index] = self._dropped.get(cell_index, 0) + size
                return None
        return super().output(outs, msg, display_id, cell_index)


def hidden_lines(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> list[str]:
    """The lines between hidden-test markers, stripped, without the blank ones."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def without_hidden(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> str:
    """`source` with each hidden block replaced by one comment line."""
    out, inside, count = [], False, 0
    for line in source.splitlines():
        if begin in line:
            inside, count = True, 0
        elif end in line:
            inside = False
            out.append(f"# ({count} lines of hidden tests are not shown)")
        elif inside:
            count += bool(line.strip())
        else:
            out.append(line)
    return "\n".join(out)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests from a notebook before it becomes feedback."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_test_delimeter = Unicode("END HIDDEN TESTS").tag(config=True)
    min_secret_length = Integer(
        12, help="Shorter hidden lines (an `else:`, a bracket) are too common to be secrets."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        secrets, public = set(), set()
        for cell in nb.cells:
            public.update(line.strip() for line in without_hidden(
                cell.source, self.begin_test_delimeter, self.end_test_delimeter).splitlines())
            if _is_test(cell):
                secrets.update(
                    s for s in hidden_lines(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
                    if len(s) >= self.min_secret_length
                )
                cell.source = without_hidden(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
                for output in cell.outputs:
                    if output.output_type == "error":
                        output.traceback = [f"{output.ename}: {output.evalue}"]
        self._secrets = sorted(secrets - public, key=len, reverse=True)
        return super().preprocess(nb, resources)

    def _scrub(self, text: str) -> str:
        plain = ANSI.sub("", text)
        if any(s in plain for s in self._secrets):
            text = plain
            for secret in self._secrets:
                text = text.replace(secret, "[hidden test]")
        return text

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = self._scrub(output.text)
            if output.output_type == "error":
                output.evalue = self._scrub(output.evalue)
                output.traceback = [self._scrub(line) for line in output.traceback]
            for key, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output.data[key] = self._scrub(value)
                elif isinstance(value, list):
                    output.data[key] = [self._scrub(v) if isinstance(v, str) else v for v in value]
        return cell, resources
