"""A class report after grading: one self-contained HTML file, and a CSV of the tests.

    python -m course_utils.grading.report ASSIGNMENT [--course DIR]

It reads the gradebook, the autograded notebooks and the grader's records, and writes
``grades/ASSIGNMENT-report.html`` (figures as embedded PNGs from matplotlib) and
``grades/ASSIGNMENT-tests.csv``:

* the distribution of total scores;
* each test cell's pass rate, and its most common failure messages, as feedback shows them
  (hidden-test lines scrubbed by `HideHiddenTests`);
* time and peak memory per submission (the grader's ``course_kit_grading`` table);
* the submissions that failed to grade, and why (the grader's CSV, else its log);
* the pairs of submissions whose solution cells are alike (`course_utils.grading.similarity`).
"""

from __future__ import annotations

import argparse
import base64
import collections
import csv
import html
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_utils.environment import tool_env
from course_utils.grading.similarity import THRESHOLD, course_pairs
from course_utils.layout import CourseFolder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MESSAGES_SHOWN = 3


@dataclass
class TestRow:
    """One test cell across the class."""

    name: str
    max_score: float
    scores: list[float] = field(default_factory=list)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def pass_rate(self) -> float:
        """The share of submissions with full marks on this test."""
        full = sum(1 for s in self.scores if s >= self.max_score - 1e-9)
        return full / len(self.scores) if self.scores else 0.0


def _messages(notebook: Path) -> dict[str, str]:
    """Each failed test cell's message in a graded notebook, with hidden-test lines scrubbed."""
    import nbformat
    from nbconvert.exporters.exporter import ResourcesDict

    from course_utils.grading.preprocessors import HideHiddenTests
    from course_utils.grading.preprocessors.hide_hidden_tests import is_test

    nb = nbformat.read(notebook, as_version=4)
    nb, _ = HideHiddenTests().preprocess(nb, ResourcesDict())
    found = {}
    for cell in nb.cells:
        if is_test(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"{output.get('ename')}: {output.get('evalue')}".strip()
                    found[cell.metadata["nbgrader"]["grade_id"]] = message[:300]
    return found


def collect(
    course: Path, assignment: str
) -> tuple[dict[str, TestRow], dict[str, float], dict[str, dict[str, Any]]]:
    """The tests, each student's total, and the grader's records, from the course folder."""
    from nbgrader.api import Gradebook

    from course_utils.grading.gradebook import runs

    db = CourseFolder(course).gradebook
    tests: dict[str, TestRow] = {}
    totals: dict[str, float] = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.find_assignment(assignment)  # MissingEntry when there is none
        for submission in gb.assignment_submissions(assignment):
            student = submission.student.id
            totals[student] = submission.score
            for notebook in submission.notebooks:
                graded = (
                    CourseFolder(course).autograded(student, assignment) / f"{notebook.name}.ipynb"
                )
                messages = _messages(graded) if graded.is_file() else {}
                for grade in notebook.grades:
                    if grade.cell.cell_type != "code":
                        continue
                    row = tests.setdefault(grade.name, TestRow(grade.name, grade.max_score))
                    row.scores.append(grade.score or 0.0)
                    if (grade.score or 0.0) < grade.max_score and grade.name in messages:
                        row.failures[messages[grade.name]] += 1
    return dict(sorted(tests.items())), totals, runs(db, assignment)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return (
        f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'
    )


def figures(tests: dict[str, TestRow], totals: dict[str, float]) -> tuple[str, str]:
    """The score histogram and the pass-rate bars, as <img> tags."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(list(totals.values()), bins=max(5, min(20, len(totals))), color="#4c72b0")
    ax.set(xlabel="total score", ylabel="submissions", title="Scores")
    scores = _png(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(tests) + 1))
    ax.barh(list(tests), [100 * t.pass_rate for t in tests.values()], color="#55a868")
    ax.set(xlabel="% of submissions with full marks", xlim=(0, 100), title="Pass rate per test")
    ax.invert_yaxis()
    rates = _png(fig)
    plt.close(fig)
    return scores, rates


def failed_submissions(course: Path, assignment: str, graded: set[str]) -> dict[str, str]:
    """Students with a submission but no grades, and why: the grader's CSV, else its log."""
    from course_utils.grading.jobs import failure_reason
    from course_utils.grading.submissions import find_submissions

    path = CourseFolder(course).grades_csv(assignment)
    said = {}
    if path.is_file():
        with open(path, newline="") as f:
            said = {r["student_id"]: r["status"] for r in csv.DictReader(f)}
    said = {student: status.removeprefix("failed: ") for student, status in said.items()}
    failed = {}
    for student in sorted(set(find_submissions(course, assignment)) - graded):
        log = CourseFolder(course).log(assignment, student)
        why = said.get(student, "")
        if not why or why == "graded":
            why = failure_reason(log.read_text(errors="replace")) if log.is_file() else ""
        failed[student] = why or "not graded yet"
    return failed


def write(course: Path, assignment: str) -> tuple[Path, Path]:
    """Write the report and the tests' CSV into ``grades/``; returns their paths."""
    tests, totals, records = collect(course, assignment)
    out = CourseFolder(course).grades
    out.mkdir(exist_ok=True)
    table = CourseFolder(course).grades_csv(assignment, "tests")
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["test", "max_score", "submissions", "mean_score", "pass_rate"])
        for t in tests.values():
            mean = sum(t.scores) / len(t.scores) if t.scores else 0.0
            writer.writerow(
                [t.name, f"{t.max_score:g}", len(t.scores), f"{mean:.3f}", f"{t.pass_rate:.3f}"]
            )
    scores, rates = figures(tests, totals)
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(t.name)}</td><td>{100 * t.pass_rate:.0f}%</td><td><ul>"
        + "".join(
            f"<li>{e(m)} <small>({n})</small></li>"
            for m, n in t.failures.most_common(MESSAGES_SHOWN)
        )
        + "</ul></td></tr>"
        for t in tests.values()
    )
    timing = "".join(
        f"<tr><td>{e(s)}</td><td>{r.get('wall') or 0:.0f} s</td>"
        f"<td>{(r.get('peak_rss') or 0) / 2**20:.0f} MiB</td></tr>"
        for s, r in sorted(records.items())
    )
    failed = (
        "".join(
            f"<tr><td>{e(s)}</td><td>{e(why)}</td></tr>"
            for s, why in failed_submissions(course, assignment, set(totals)).items()
        )
        or "<tr><td colspan=2>none</td></tr>"
    )
    similar = (
        "".join(
            f"<tr><td>{e(p.first)}</td><td>{e(p.second)}</td>"
            f"<td>{100 * p.first_share:.0f}% / {100 * p.second_share:.0f}%</td></tr>"
            for p in course_pairs(course, assignment)
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e(assignment)}: class report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}td{{vertical-align:top;
padding:2px 8px}}table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style>
</head><body><h1>{e(assignment)}: class report</h1>
<p>{len(totals)} graded submissions.</p>
<h2>Scores</h2>{scores}
<h2>Tests</h2>{rates}
<table><tr><th>test</th><th>pass rate</th><th>most common failure messages</th></tr>{rows}</table>
<h2>Time and memory per submission</h2>
<table><tr><th>student</th><th>wall time</th><th>peak memory</th></tr>{timing}</table>
<h2>Submissions that failed to grade</h2>
<table><tr><th>student</th><th>why</th></tr>{failed}</table>
<h2>Similar submissions</h2>
<p>Solution cells compared with copydetect, the released code left out; a pair is listed when
the code they share covers at least {100 * THRESHOLD:.0f}% of either.</p>
<table><tr><th>student</th><th>student</th><th>shared code (each side)</th></tr>{similar}</table>
</body></html>
"""
    report = CourseFolder(course).report(assignment)
    report.write_text(page)
    return report, table


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description="Write a class report after grading.")
    parser.add_argument("assignment")
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course folder")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if not CourseFolder(course).gradebook.is_file():
        print(
            f"error: no gradebook.db in {course}: grade the class first, or give --course",
            file=sys.stderr,
        )
        return 2
    os.environ["PATH"] = tool_env()["PATH"]  # nbgrader's gradebook runs alembic
    from nbgrader.api import MissingEntry

    try:
        report, table = write(course, args.assignment)
    except MissingEntry:
        print(f"error: the gradebook has no assignment {args.assignment!r}", file=sys.stderr)
        return 2
    from course_utils.grading.isolation import hand_back

    hand_back(course)  # as root: the report to the course's owner
    print(f"report: {report}\ntests: {table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
