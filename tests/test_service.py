"""The grading service with real Unix users: each student submits with ``nbgrader submit``,
the service grades within the attempts allowed, and each fetches only their own feedback with
``nbgrader fetch_feedback``. A service killed mid-grading ends as one left alone.
Runs as root (as CI does); skipped elsewhere."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from support.exchange import Exchange, tiny_notebook, unix_users
from support.paths import ROOT

ASSIGNMENT = "quick"
SECRET = "HIDDEN-CHECK-7f3a"  # a hidden test's text: never in any feedback
POLICY = {ASSIGNMENT: {"max_attempts": 2, "counts": "best"}}


def _source() -> nbformat.NotebookNode:
    nb = tiny_notebook()
    nb.cells[2].source = (
        "assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
        f"### BEGIN HIDDEN TESTS\nassert add(-4, 4) == 0, '{SECRET}'\n### END HIDDEN TESTS"
    )
    return nb


def _answer(release: Path, body: str) -> bytes:
    """The released notebook with `add` written as `body`."""
    nb = nbformat.read(release, as_version=4)
    nb.cells[1].source = f"def add(a, b):\n    {body}\n"
    return json.dumps(nb).encode()


def _course(exchange: Exchange) -> Path:
    exchange.add_source(ASSIGNMENT, _source())
    with open(exchange.course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.AttemptPolicy.assignments = {POLICY!r}\n")
    exchange.release(ASSIGNMENT)
    return exchange.course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def serve(
    course: Path, *args: str, once: bool = True
) -> subprocess.CompletedProcess | subprocess.Popen:
    command = [sys.executable, "-m", "course_utils.grade", "serve", "--course", str(course)]
    command += ["--poll", "0.2", "--workers", "2", *args] + (["--once"] if once else [])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if not once:  # a Popen: the caller stops it
        return subprocess.Popen(  # type: ignore[return-value]
            command,
            env=env,
            start_new_session=True,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def attempts(course: Path) -> dict[str, tuple]:
    with sqlite3.connect(course / ".course-kit" / "service.db") as con:
        rows = con.execute("SELECT name, owner, status, number, score, reason FROM attempts")
        return {row[0]: row[1:] for row in rows}


def scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}


def feedback(exchange: Exchange, user) -> str:
    pages = exchange.fetch_feedback(user, ASSIGNMENT)
    assert all(p.stat().st_uid == user.pw_uid for p in pages), "each copy is the student's"
    return "\n".join(pages.values())


def test_each_student_gets_their_own_feedback_within_their_attempts(tmp_path):
    with unix_users(["alice", "bob"]) as users, Exchange(tmp_path / "course") as exchange:
        alice, bob = users["alice"], users["bob"]
        release = _course(exchange)
        for user in (alice, bob):
            exchange.fetch(user, ASSIGNMENT)
        exchange.submit(alice, ASSIGNMENT, _answer(release, "return a + b"))  # the reference
        exchange.submit(bob, ASSIGNMENT, _answer(release, "return a - b"))  # a mistake
        serve(exchange.course)
        assert scores(exchange.course) == {alice.pw_name: 1.0, bob.pw_name: 0.0}
        first = feedback(exchange, alice)
        assert "Graded attempt 1 of 2" in first and SECRET not in first
        said = feedback(exchange, bob)
        assert "add(1, 2) should be 3" in said and SECRET not in said
        assert alice.pw_name not in said and bob.pw_name not in first

        exchange.submit(bob, ASSIGNMENT, _answer(release, "return b + a"))  # a resubmission
        serve(exchange.course)
        assert scores(exchange.course)[bob.pw_name] == 1.0
        assert "Graded attempt 2 of 2" in feedback(exchange, bob)

        exchange.submit(bob, ASSIGNMENT, _answer(release, "return 0"))  # past the limit
        # Alice hands in under Bob's name: nbgrader lets her, the service does not.
        exchange.student(alice, "submit", ASSIGNMENT, f"--student={bob.pw_name}")
        serve(exchange.course)
        assert scores(exchange.course) == {alice.pw_name: 1.0, bob.pw_name: 1.0}
        rows = attempts(exchange.course)
        refused = {r[0]: r for r in rows.values() if r[1] == "refused"}
        assert set(refused) == {alice.pw_name, bob.pw_name}
        assert "used all 2 graded attempts" in refused[bob.pw_name][4]
        assert (
            f"names the student {bob.pw_name!r}, but {alice.pw_name!r}" in refused[alice.pw_name][4]
        )
        assert "Not graded: you have used all 2" in feedback(exchange, bob)
        said = feedback(exchange, alice)
        assert "Not graded: it names the student" in said and "Graded attempt 1 of 2" in said
        kept = exchange.course / ".course-kit" / "attempts" / ASSIGNMENT / bob.pw_name
        assert len([p for p in kept.iterdir() if not p.name.endswith(".feedback")]) == 3
        outbound = exchange.course_path / "feedback"
        assert stat.S_IMODE(outbound.stat().st_mode) == 0o711
        assert {stat.S_IMODE(p.stat().st_mode) for p in outbound.iterdir()} == {0o644}


def test_a_service_killed_mid_grading_ends_as_one_left_alone(tmp_path):
    with unix_users(["carol", "dave"]) as users, Exchange(tmp_path / "alone") as exchange:
        release = _course(exchange)
        for user, body in ((users["carol"], "return a + b"), (users["dave"], "return a * b")):
            exchange.fetch(user, ASSIGNMENT)
            exchange.submit(user, ASSIGNMENT, _answer(release, body))
        killed = tmp_path / "killed"  # the same course, graded by a service that is killed
        killed.mkdir()
        for name in ("nbgrader_config.py", "gradebook.db", "source", "release"):
            src = exchange.course / name
            subprocess.run(["cp", "-a", str(src), str(killed / name)], check=True)
        service = serve(killed, once=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            db = killed / ".course-kit" / "service.db"
            if db.exists() and any(r[1] == "grading" for r in attempts(killed).values()):
                break
            time.sleep(0.1)
        time.sleep(2)  # into the grading itself
        os.killpg(service.pid, signal.SIGKILL)
        service.wait(timeout=30)
        assert any(r[1] == "grading" for r in attempts(killed).values()), "killed mid-grading"
        serve(killed)  # started again: it finds what it left half done
        serve(exchange.course)  # uninterrupted
        assert (
            scores(killed)
            == scores(exchange.course)
            == {
                users["carol"].pw_name: 1.0,
                users["dave"].pw_name: 0.0,
            }
        )
        statuses = {
            course: sorted((r[0], r[1], r[2], r[3]) for r in attempts(course).values())
            for course in (killed, exchange.course)
        }
        assert statuses[killed] == statuses[exchange.course]
        assert "Graded attempt 1 of 2" in feedback(exchange, users["carol"])


def test_the_command_line_refuses_bad_settings(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    run = [sys.executable, "-m", "course_utils.grade", "serve", "--course", str(tmp_path)]
    done = subprocess.run([*run, "--poll", "0"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "--poll must be more than 0" in done.stderr
    done = subprocess.run([*run, "--once"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "course_id" in done.stderr, done.stderr
