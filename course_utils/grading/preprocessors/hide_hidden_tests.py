"""`HideHiddenTests`: no hidden test in feedback, in a test cell's source or in any output.

The hidden part of every test cell is removed from its source, tracebacks of test cells are
cut to the exception and its message, and no output anywhere in the notebook may repeat a line
of a hidden test (a student's code can print the cells it runs).
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, Unicode

from course_utils.grading.regions import (
    HIDDEN_TESTS,
    Markers,
    RegionError,
    hidden_lines,
    without_hidden,
)

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def is_test(cell: NotebookNode) -> bool:
    """Whether `cell` is an autograded test cell (graded code that is not a solution)."""
    return cell.cell_type == "code" and bool(utils.is_grade(cell)) and not utils.is_solution(cell)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests from a notebook before it becomes feedback."""

    begin_test_delimeter = Unicode(
        HIDDEN_TESTS.begin, help="The delimiter marking the beginning of hidden tests"
    ).tag(config=True)
    end_test_delimeter = Unicode(
        HIDDEN_TESTS.end, help="The delimiter marking the end of hidden tests"
    ).tag(config=True)
    min_secret_length = Integer(
        12, help="Shorter hidden lines (an `else:`, a bracket) are too common to be secrets."
    ).tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Strip the test cells' hidden parts, learn their lines, then scrub every output."""
        markers = Markers(self.begin_test_delimeter, self.end_test_delimeter)
        secrets: set[str] = set()
        public: set[str] = set()
        for cell in nb.cells:
            try:
                shown = without_hidden(cell.source, markers)
            except RegionError:  # a student's cell with a stray marker: all of it is public
                if is_test(cell):
                    raise
                shown = cell.source
            public.update(line.strip() for line in shown.split("\n"))
            if is_test(cell):
                secrets.update(
                    s
                    for s in hidden_lines(cell.source, markers)
                    if len(s) >= self.min_secret_length
                )
                cell.source = without_hidden(cell.source, markers)
                for output in cell.outputs:
                    if output.output_type == "error":
                        output.traceback = [f"{output.ename}: {output.evalue}"]
        self._secrets = sorted(secrets - public, key=len, reverse=True)
        done: tuple[NotebookNode, ResourcesDict] = super().preprocess(nb, resources)
        return done

    def _scrub(self, text: str) -> str:
        plain = ANSI.sub("", text)
        if any(s in plain for s in self._secrets):
            text = plain
            for secret in self._secrets:
                text = text.replace(secret, "[hidden test]")
        return text

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Replace hidden-test lines in the cell's outputs by "[hidden test]"."""
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
