"""The grading service as the docs run it: the systemd unit and the JupyterHub service of
docs/feedback-service.md, read from that page, started as the service's own user (not root).
Runs as root (as CI does), to make the users; skipped elsewhere."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from test_service import ASSIGNMENT, _answer, _course, feedback
from traitlets.config import Config

from support.exchange import Exchange, check, unix_users
from support.paths import ROOT

PAGE = ROOT / "docs" / "feedback-service.md"
COURSE, PYTHON = "/srv/course", "/srv/course/.venv/bin/python"


def _block(language: str, after: str) -> str:
    """The first ``language`` code block of the page after the heading `after`."""
    text = PAGE.read_text()
    start = text.index(after)
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.S)
    assert found, f"no {language} block after {after!r}"
    return found.group(1)


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(_block("ini", "### systemd"))
    return parser


def hub_services() -> list[dict]:
    c = Config()
    exec(_block("python", "### JupyterHub"), {"c": c})  # the page's own config
    return c.JupyterHub.services


def test_the_unit_is_a_service_of_its_own_user():
    service = unit()["Service"]
    assert set(unit()) >= {"Unit", "Service", "Install"}
    assert service["User"] == "grader" and service["User"] != "root"
    command = shlex.split(service["ExecStart"])
    assert command[:4] == [PYTHON, "-m", "course_utils.grade", "serve"]
    assert service["WorkingDirectory"] == COURSE and command[-2:] == ["--course", COURSE]
    if shutil.which("systemd-analyze"):
        done = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", "/dev/stdin"],
            input=_block("ini", "### systemd"),
            capture_output=True,
            text=True,
        )
        assert "Unknown key" not in done.stderr, done.stderr


def test_the_hub_runs_the_same_command_as_the_same_user():
    (service,) = hub_services()
    runuser, systemd = service["command"], shlex.split(unit()["Service"]["ExecStart"])
    assert runuser[:4] == ["runuser", "-u", unit()["Service"]["User"], "--"]
    assert runuser[4:] == systemd


def _as_documented(command: list[str], course: Path, user: str) -> list[str]:
    """The page's command for this machine: this environment's Python, the test's course and
    service user."""
    mine = {PYTHON: sys.executable, COURSE: str(course), unit()["Service"]["User"]: user}
    return [mine.get(part, part) for part in command]


def test_the_documented_commands_serve_as_their_own_user():
    base = Path(tempfile.mkdtemp(prefix="course-grader-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        with (
            unix_users(["grader", "erin"]) as users,
            Exchange(base / "course") as exchange,
        ):
            grader, erin = users["grader"], users["erin"]
            release = _course(exchange)
            for path in (base / "course", exchange.course_path):  # as the page says
                subprocess.run(["chown", "-R", f"{grader.pw_name}:", str(path)], check=True)
            os.chmod(exchange.course_path / "inbound", 0o2733)
            exchange.fetch(erin, ASSIGNMENT)
            systemd = shlex.split(unit()["Service"]["ExecStart"])
            hub = hub_services()[0]["command"]
            for command, body in ((systemd, "return a + b"), (hub, "return a - b")):
                exchange.submit(erin, ASSIGNMENT, _answer(release, body))
                run = _as_documented(command, base / "course", grader.pw_name)
                run += ["--once", "--poll", "0.2"]
                if run[0] != "runuser":
                    run = ["runuser", "-u", grader.pw_name, "--", *run]
                run = [*run[:4], "env", f"HOME={grader.pw_dir}", *run[4:]]
                done = subprocess.run(
                    run, capture_output=True, text=True, timeout=600, cwd=base / "course"
                )
                check(done, " ".join(run))
            said = feedback(exchange, erin)
            assert "Graded attempt 1 of 2" in said and "Graded attempt 2 of 2" in said
            pages = list((exchange.course_path / "feedback").iterdir())
            assert pages and {p.stat().st_uid for p in pages} == {grader.pw_uid}
            record = base / "course" / ".course-kit" / "service.db"
            assert record.stat().st_uid == grader.pw_uid, "the service ran as its own user"
    finally:
        shutil.rmtree(base, ignore_errors=True)
