"""Benchmark part "service": the time from ``nbgrader submit`` to feedback in the exchange.

Real Unix users (as root) submit the lab through nbgrader's exchange while the grading service
runs (``python -m course_utils.grade serve --epochs 1 --workers 2``): the untouched release
alone, the reference alone, then a class of students submitting at once. Beside each time, the
grader's own wall time for that submission (the gradebook's record): the difference is the
service's overhead (noticing, reading, releasing).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support import LAB, Course
from support.exchange import Exchange, unix_users

ASSIGNMENT = "lab3_part2"
#: seconds the service may add to the grader's own time: noticing, reading, releasing
OVERHEAD_S = 5.0


def _address(user, assignment: str) -> list[str]:
    """The feedback names nbgrader's fetch_feedback will look for, from the user's cache."""
    cache = Path(user.pw_dir) / ".local/share/jupyter/nbgrader_cache"
    names = []
    for secret in cache.glob(f"*/*+{assignment}+*/submission_secret.txt"):
        for nb in secret.parent.glob("*.ipynb"):
            key = secret.read_text().encode() + nb.stem.encode()
            names.append(hashlib.md5(key).hexdigest() + ".html")
    return names


def _wait(exchange: Exchange, pending: dict[str, list[str]], start: float) -> dict[str, float]:
    """Seconds from `start` until each student's newest feedback page is in the exchange."""
    done: dict[str, float] = {}
    outbound = exchange.course_path / "feedback"
    while len(done) < len(pending):
        for who, names in pending.items():
            if who not in done and all((outbound / n).is_file() for n in names):
                done[who] = time.monotonic() - start
        time.sleep(0.2)
    return done


def _grader_walls(course: Path) -> dict[str, float]:
    with sqlite3.connect(course / "gradebook.db") as con:
        rows = con.execute("SELECT student, wall FROM course_kit_grading").fetchall()
    return {student: wall for student, wall in rows}


def service(work: Path, row, target) -> None:
    """Run the part; each figure goes to `target` (the closing table) with its bound."""
    if os.geteuid() != 0:
        print("\nService: skipped (real users need root)", flush=True)
        return
    (work / "prep").mkdir()
    prep = Course(work / "prep", ASSIGNMENT)
    reference = json.dumps(prep.solved(LAB.answers)).encode()
    untouched = prep.release.read_bytes()
    students = ["solo", "ref", "c1", "c2", "c3", "c4"]
    base = work / "exchange-course"
    base.mkdir(mode=0o755)
    os.chmod(work, 0o755)
    with unix_users(students) as users, Exchange(base / "course") as exchange:
        exchange.add_source(ASSIGNMENT)
        exchange.release(ASSIGNMENT)
        for user in users.values():
            exchange.fetch(user, ASSIGNMENT)
        command = [
            sys.executable,
            "-m",
            "course_utils.grade",
            "serve",
            "--course",
            str(exchange.course),
            "--epochs",
            "1",
            "--workers",
            "2",
            "--poll",
            "0.5",
        ]
        log = open(work / "service.log", "w")  # noqa: SIM115 (open while the service runs)
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            print(f"\nService: submit to feedback ({ASSIGNMENT}, --epochs 1)", flush=True)
            widths = [44, 14, 14, 12]
            print(row("", ["to feedback", "grader wall", "overhead"], widths))
            for who, data, what in (
                ("solo", untouched, "untouched release"),
                ("ref", reference, "reference"),
            ):
                start = time.monotonic()
                exchange.submit(users[who], ASSIGNMENT, data)
                seconds = _wait(exchange, {who: _address(users[who], ASSIGNMENT)}, start)[who]
                wall = _grader_walls(exchange.course)[users[who].pw_name]
                print(
                    row(
                        what,
                        [f"{seconds:.1f} s", f"{wall:.1f} s", f"{seconds - wall:.1f} s"],
                        widths,
                    ),
                    flush=True,
                )
                target(f"service overhead, {what} (s)", seconds - wall, OVERHEAD_S, "s")
            class_ = ["c1", "c2", "c3", "c4"]
            start = time.monotonic()
            for who in class_:
                exchange.submit(users[who], ASSIGNMENT, reference if who != "c4" else untouched)
            seconds = _wait(exchange, {w: _address(users[w], ASSIGNMENT) for w in class_}, start)
            last = max(seconds.values())
            rate = len(class_) / last * 60
            print(
                row(
                    f"{len(class_)} students at once: last feedback",
                    [f"{last:.1f} s", "", f"{rate:.1f}/min"],
                    widths,
                ),
                flush=True,
            )
            # 2 workers: two rounds of one submission's grading, and the service's overhead
            bound = round(2 * (wall + OVERHEAD_S))
            target(f"service: {len(class_)} at once, all feedback (s)", last, bound, "s")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
