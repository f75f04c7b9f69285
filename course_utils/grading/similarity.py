"""Similar submissions: the students' solution cells compared with copydetect.

Each submission's solution cells (the code cells students write) are joined into one text,
fingerprinted with copydetect's winnowing (names and literals normalised, so renamed variables
still match), with the released notebook's code as boilerplate, so the code every student was
given does not count. A pair is flagged when the code copied between them covers at least
`THRESHOLD` of either side.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.grading.submissions import refusal
from course_utils.layout import CourseFolder

if TYPE_CHECKING:
    from copydetect import CodeFingerprint

THRESHOLD = 0.5
NOISE = 25  # copydetect's default k-gram length (tokens)


@dataclass(frozen=True)
class Pair:
    """Two students whose solutions overlap; each side's share of copied code."""

    first: str
    second: str
    first_share: float
    second_share: float


def solution_code(notebook: Path) -> str:
    """The code of a notebook's solution cells ("" if it cannot be read)."""
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 (a broken submission is graded elsewhere; nothing here)
        return ""
    return "\n\n".join(
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    )


def _fingerprint(code: str, boilerplate: list[int]) -> CodeFingerprint:
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        "solution.py", NOISE, 1, boilerplate=boilerplate, language="python", fp=io.StringIO(code)
    )


def similar_pairs(
    notebooks: dict[str, Path], release: Path, threshold: float = THRESHOLD
) -> list[Pair]:
    """The pairs of `notebooks` (by student) whose solution cells overlap past `threshold`.

    Args:
        notebooks: each student's submitted notebook.
        release: the released notebook, whose code does not count.
        threshold: the share of either side's code that flags a pair.

    Returns:
        The flagged pairs, most similar first.
    """
    import nbformat
    from copydetect import compare_files

    everything = "\n\n".join(
        c.source for c in nbformat.read(release, as_version=4).cells if c.cell_type == "code"
    )
    given = solution_code(release) + "\n\n" + everything  # the stubs, joined as students' are
    boilerplate = list(_fingerprint(given, []).hashes)
    prints = {}
    for student, path in sorted(notebooks.items()):
        code = solution_code(path)
        if code.strip():
            prints[student] = _fingerprint(code, boilerplate)
    pairs = []
    for (a, fa), (b, fb) in itertools.combinations(prints.items(), 2):
        _, (share_a, share_b), _ = compare_files(fa, fb)
        if max(share_a, share_b) >= threshold:
            pairs.append(Pair(a, b, float(share_a), float(share_b)))
    return sorted(pairs, key=lambda p: -max(p.first_share, p.second_share))


def course_pairs(course: Path, assignment: str) -> list[Pair]:
    """The flagged pairs among the submissions of `assignment` in `course`."""
    notebooks = {
        p.parents[1].name: p
        for p in sorted(CourseFolder(course).submitted().glob(f"*/{assignment}/{assignment}.ipynb"))
        if refusal(p.parent) is None  # the grader's refusals: links, special files, size
    }
    release = CourseFolder(course).release(assignment) / f"{assignment}.ipynb"
    return similar_pairs(notebooks, release) if release.is_file() else []
