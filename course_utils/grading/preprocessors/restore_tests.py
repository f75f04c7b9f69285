"""`RestoreTests`: every test cell as the gradebook holds it, where the instructor put it.

nbgrader's own ``add_missing_cells`` puts a deleted test cell back after the cell before it in
the source notebook, but only finds that cell when it is graded or a solution (a locked cell
before a test makes it fail with a ``KeyError``), and it leaves a test cell's tags and
metadata as the student left them. In their place, this preprocessor (run before nbgrader's
`OverwriteCells`) makes each autograded test cell from the gradebook: its source, its points,
locked, and no tags (``skip-execution`` included). A test cell that is missing, or that was
moved out of its place among the instructor's cells, goes right after the nearest cell that
precedes it in the instructor's notebook; a test cell still in its place stays there, with any
cells the student added around it. A deleted written answer comes back empty, as nbgrader's
own would. Cells claiming a grade id the gradebook does not know lose their nbgrader metadata,
so they are neither run as tests nor graded.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode, from_dict
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from traitlets import Dict


def _grade_id(cell: NotebookNode) -> str | None:
    grade_id: str | None = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id


def gradebook_tests(resources: ResourcesDict) -> dict[str, str]:
    """The notebook's autograded test cells in the gradebook: grade id -> source."""
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gradebook:
        notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
        sources = {cell.name: cell for cell in notebook.source_cells}
        answers = {cell.name for cell in notebook.solution_cells}  # graded, but the student's
        return {
            cell.name: sources[cell.name].source
            for cell in notebook.grade_cells
            if cell.cell_type == "code" and cell.name in sources and cell.name not in answers
        }


class RestoreTests(NbGraderPreprocessor):
    """Put every autograded test cell back, from the gradebook, in the instructor's place."""

    order = Dict(
        help="Each notebook's grade ids in the instructor's order, by notebook name. "
        "Notebooks not listed use the gradebook's order."
    ).tag(config=True)

    def _tests(
        self, resources: ResourcesDict
    ) -> tuple[dict[str, NotebookNode], list[str], set[str], set[str]]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            sources = {cell.name: cell for cell in notebook.source_cells}
            solutions = {cell.name for cell in notebook.solution_cells}
            tests, self._manual = {}, {}
            for grade in notebook.grade_cells:
                source = sources.get(grade.name)
                if source is not None and grade.name in solutions:  # a written answer
                    self._manual[grade.name] = from_dict(
                        OverwriteCells(parent=self).missing_cell_transform(
                            source, grade.max_score, is_solution=True
                        )
                    )
                if grade.cell_type != "code" or grade.name in solutions or source is None:
                    continue
                tests[grade.name] = new_code_cell(
                    source.source,
                    metadata={
                        "deletable": False,
                        "editable": False,
                        "nbgrader": {
                            "cell_type": "code",
                            "checksum": source.checksum,
                            "grade": True,
                            "grade_id": grade.name,
                            "locked": True,
                            "points": float(grade.max_score),
                            "schema_version": 3,
                            "solution": False,
                            "task": False,
                        },
                    },
                )
            known = list(sources)
            graded = {cell.name for cell in notebook.grade_cells}
        order = [name for name in self.order.get(info["notebook"], known) if name in sources]
        return tests, order + [name for name in known if name not in order], graded, solutions

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Rebuild the test cells, keep those in place, put the others where they belong."""
        tests, order, graded, solutions = self._tests(resources)
        rank: dict[str | None, int] = {name: i for i, name in enumerate(order)}
        cells: list[NotebookNode] = []
        placed: dict[str, int] = {}
        for cell in nb.cells:
            grade_id = _grade_id(cell)
            if "nbgrader" in cell.get("metadata", {}):
                if grade_id not in rank:
                    del cell.metadata["nbgrader"]  # unknown to the gradebook: a plain cell
                else:  # what the gradebook says the cell is, whatever its metadata claims
                    cell.metadata.nbgrader["grade"] = grade_id in graded
                    cell.metadata.nbgrader["solution"] = grade_id in solutions
            if grade_id in tests:
                if grade_id in placed:
                    continue  # a copy of a test cell
                fresh = tests[grade_id]
                fresh["id"] = cell.get("id", fresh.get("id"))
                placed[grade_id] = len(cells)
                cell = fresh
            cells.append(cell)

        def in_place(index: int) -> bool:
            mine = rank[_grade_id(cells[index])]
            before = [rank[g] for c in cells[:index] if (g := _grade_id(c)) in rank]
            after = [rank[g] for c in cells[index + 1 :] if (g := _grade_id(c)) in rank]
            return all(r < mine for r in before) and all(r > mine for r in after)

        present = {_grade_id(c) for c in cells}
        for grade_id in [g for g in order if g in tests or g in self._manual]:
            if grade_id in self._manual:
                if grade_id in present:
                    continue
                self.log.warning("Answer cell %s was missing: it is put back, empty", grade_id)
                cell = self._manual[grade_id]
            elif grade_id in placed:
                index = next(i for i, c in enumerate(cells) if _grade_id(c) == grade_id)
                if in_place(index):
                    continue
                self.log.warning("Test cell %s was moved: it goes back in its place", grade_id)
                cell = cells.pop(index)
            else:
                self.log.warning("Test cell %s was missing: it is put back", grade_id)
                cell = tests[grade_id]
            nearest, at = -1, 0
            for i, other in enumerate(cells):
                mine = rank.get(_grade_id(other), -1)
                if nearest < mine < rank[grade_id]:
                    nearest, at = mine, i + 1
            cells.insert(at, cell)
        nb.cells = cells
        return nb, resources
