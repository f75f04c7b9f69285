"""Finding and editing the cells of an nbgrader notebook by grade id."""

from __future__ import annotations

import datetime

import nbformat


def grade_id_of(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader grade id of `cell`, or None for a cell without nbgrader metadata."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The cell of `nb` with this grade id (the cell itself, not a copy).

    Raises:
        KeyError: when `nb` has no such cell.
    """
    for candidate in nb.cells:
        if grade_id_of(candidate) == grade_id:
            return candidate
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def seconds_run(cell: nbformat.NotebookNode) -> float | None:
    """How long an executed cell ran, from nbclient's execution records; None if not run."""
    timing = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return None
    start, end = (
        datetime.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
        for key in ("iopub.execute_input", "shell.execute_reply")
    )
    return (end - start).total_seconds()


def with_code(
    nb: nbformat.NotebookNode, grade_id: str, before: str = "", after: str = ""
) -> nbformat.NotebookNode:
    """A copy of `nb` with `before` and `after` added around the source of cell `grade_id`."""
    nb = nbformat.from_dict(nb)
    target = cell(nb, grade_id)
    target.source = before + target.source + after
    return nb


def mutate(nb: nbformat.NotebookNode, grade_id: str, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of `nb` with `old` replaced by `new` once in cell `grade_id` (which must hold it)."""
    nb = nbformat.from_dict(nb)
    target = cell(nb, grade_id)
    assert old in target.source, f"{old!r} is not in cell {grade_id}"
    target.source = target.source.replace(old, new, 1)
    return nb
