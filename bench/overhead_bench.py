"""Benchmark parts "overhead" and "class": what grading adds to a notebook's own cells.

Part "overhead": the lab's untouched release graded by the kit's grader at ``--epochs 1``,
alone (a class of one, one worker) and as part of a class (the reference and
two mistakes beside it, two workers). Its fixed cost is the grader's wall time for it less the
notebook's own time: its cells' times (the autograded notebook's execution records) and its
import of Keras, as the notebook's first cell would import it: the seeding before the first
cell, which imports Keras where the kernel was started without it, and, where the kernel was
forked from a kernel server, the time it waited for that server's import of Keras (the first
kernel of a grading process; the kernel's own log line). In a class, the time its notebook
waited for a core while the other submissions ran their cells (``cores``, nbgrader's log) is a
queue, not a cost of its own: it is shown, and left out. The command's whole wall time, alone,
is shown too.

Part "class": a lab class of ``--class-size`` distinct submissions (the reference, every
mistake and the untouched release in turn, each with a comment of its own so that none is a
copy of another) graded at ``--epochs 1`` with a worker per core, then the same class on a
Dask cluster of two local worker processes (TLS, a certificate made for the run). The target:
the wall time within 1.15x of the notebooks' own time (cells and Keras's import, summed over the
class) divided by the cores.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from course_utils.environment import tool_env
from support import LAB, Course, mutate
from support.notebooks import seconds_run, with_code

ASSIGNMENT = "lab3_part2"
FIXED_TARGET_S = 4.0
CLASS_TARGET = 1.15
SEEDED = re.compile(r"Seeded the kernel with \d+ in ([0-9.]+) s")
WAITED = re.compile(r"The student's kernel waited ([0-9.]+) s for its server's import of Keras")
CORE = re.compile(r"Waited ([0-9.]+) s for a core")


def own_seconds(course: Course, student: str, log: str) -> tuple[float, float]:
    """(the cells' seconds, the seconds of its import of Keras: seeding, and waiting for its
    kernel server's import) of `student`'s graded notebook."""
    cells = sum(seconds_run(c) or 0.0 for c in course.autograded(student).cells)
    imported = sum(
        float(found.group(1)) for found in (SEEDED.search(log), WAITED.search(log)) if found
    )
    return cells, imported


def core_wait(log: str) -> float:
    """The seconds a submission's notebook waited for a core while others ran (a queue, not
    its own cost: `course_utils.grading.cores`)."""
    found = CORE.search(log)
    return float(found.group(1)) if found else 0.0


def _grade(course: Course, workers: int, dask: str | None = None):
    from course_utils.grading.coordinator import grade_class

    report = grade_class(
        course.root,
        ASSIGNMENT,
        workers=workers,
        dask=dask,
        epochs=1,
        force=True,
        progress=False,
        log=lambda line: None,
    )
    if report.failed:
        raise SystemExit(f"the kit failed to grade: {report.failed}")
    return report


def overhead(work: Path, row: Callable, target: Callable) -> None:
    print("\nFixed cost: the untouched release, alone and in a class, --epochs 1", flush=True)
    widths = [34, 10, 10, 10, 12, 12]
    # Keras: seeding, waiting for a server; a core: waiting while the other submissions ran
    heads = ["graded in", "a core", "cells", "Keras", "fixed cost"]
    lines = [row("untouched release", heads, widths)]
    beside = ("wrong_order", "transposed_confusion")
    for name, workers, mistakes in (("alone", 1, ()), ("in a class of 4", 2, beside)):
        (work / name).mkdir()
        course = Course(work / name, ASSIGNMENT)
        release = nbformat.read(course.release, as_version=4)
        course.submit("untouched", release)
        if mistakes:
            reference = course.solved(LAB.answers)
            course.submit("reference", reference)
            for mistake in mistakes:
                cell, old, new, _ = LAB.wrong[mistake]
                course.submit(mistake, mutate(reference, cell, old, new))
        report = _grade(course, workers)
        outcome = report.outcomes["untouched"]
        cells, keras = own_seconds(course, "untouched", outcome.log)
        queued = core_wait(outcome.log)
        fixed = outcome.wall - queued - cells - keras
        values = [f"{outcome.wall:.1f} s", f"{queued:.1f} s", f"{cells:.1f} s", f"{keras:.1f} s"]
        values.append(f"{fixed:.1f} s")
        lines.append(row(name, values, widths))
        target(f"untouched release, fixed cost, {name}", fixed, FIXED_TARGET_S, "s")
        if not mistakes:  # the whole command, as an instructor types it
            start = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "course_utils.grade", ASSIGNMENT, "--course",
                 str(course.root), "--workers", "1", "--epochs", "1", "--force"],
                capture_output=True, text=True, env=tool_env(),
            )  # fmt: skip
            whole = time.monotonic() - start
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            lines.append(row("  the whole command, alone", [f"{whole:.1f} s"], widths[:2]))
    print("\n".join(lines))


def distinct_class(course: Course, size: int) -> list[str]:
    """`size` submissions, each different: reference, mistakes, untouched, in turn."""
    reference = course.solved(LAB.answers)
    kinds = [("reference", reference)]
    for mistake, (cell, old, new, _) in sorted(LAB.wrong.items()):
        kinds.append((mistake, mutate(reference, cell, old, new)))
    kinds.append(("untouched", nbformat.read(course.release, as_version=4)))
    students = []
    for number in range(size):
        kind, nb = kinds[number % len(kinds)]
        student = f"s{number:03d}_{kind}"
        course.submit(student, with_code(nb, "preprocess", before=f"# {student}\n"))
        students.append(student)
    return students


def big_class(
    work: Path, size: int, on: str, workers: int | None, row: Callable, target: Callable
) -> None:
    """A class of `size`, graded `on` "local" (`workers`, default one per core), "dask" or
    "both"; each row printed once done."""
    cores = os.cpu_count() or 1
    workers = workers or cores
    print(f"\nA class of {size} distinct lab submissions, --epochs 1, {cores} cores", flush=True)
    widths = [30, 10, 14, 14, 14, 10]
    heads = ["wall", "CPU/subm.", "own time", "own/cores", "ratio"]
    print(row("", heads, widths), flush=True)
    local = "local, a worker per core" if workers == cores else f"local, {workers} workers"
    for name, dask in ((local, None), ("Dask, 2 processes, TLS", "local")):
        if on != "both" and on != ("dask" if dask else "local"):
            continue
        folder = work / ("dask" if dask else "local")
        folder.mkdir()
        course = Course(folder, ASSIGNMENT)
        students = distinct_class(course, size)
        start = time.monotonic()
        report = _grade(course, 2 if dask else workers, dask)
        wall = time.monotonic() - start
        if report.copies or len(report.graded) != size:
            raise SystemExit(f"expected {size} graded, none a copy: {report.copies}")
        own = sum(sum(own_seconds(course, s, report.outcomes[s].log)) for s in students)
        cpu = sum(report.outcomes[s].cpu for s in students) / size
        ideal = own / cores
        values = [f"{wall:.0f} s", f"{cpu:.1f} s", f"{own:.0f} s", f"{ideal:.0f} s"]
        print(row(name, [*values, f"{wall / ideal:.2f}x"], widths), flush=True)
        if dask or workers == cores:  # more workers than cores: the notebooks' own time grows
            target(
                f"class of {size}, {name}: wall / (own time / cores)", wall / ideal, CLASS_TARGET
            )
