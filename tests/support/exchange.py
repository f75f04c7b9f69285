"""nbgrader's file exchange with real Unix users: the instructor (root) releases, collects and
releases feedback; each student is a user of their own who fetches and submits with nbgrader.

Needs root (to add and remove users) and `useradd`, `userdel` and `runuser`; otherwise the
test is skipped. The layout and modes are the ones docs/feedback-service.md describes:

- a world-traversable folder (0755) under /tmp holds the exchange root, mode 1777: nbgrader
  wants it writable by everyone and checks only the rwx bits, and the sticky bit keeps the
  students from renaming or deleting the course folder that the instructor creates in it;
- the instructor's course folder: the repository's `nbgrader_config.py` with the exchange root
  and course id added, and `source/ASSIGNMENT`;
- each student's `~/.jupyter/nbgrader_config.py` with the same two settings, in a home folder
  of mode 0700 (nbgrader keeps each submission's secret in the student's home, and whoever can
  read it can fetch that student's feedback).

Usage::

    with unix_users(["alice", "bob"]) as users, Exchange(tmp_path / "course") as exchange:
        exchange.add_source("ps1")
        exchange.release("ps1")
        exchange.fetch(users["alice"], "ps1")
        exchange.submit(users["alice"], "ps1")
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_utils.environment import BIN, tool_env
from course_utils.grading.isolation import open_path_to, python_paths
from support.paths import ROOT

#: The course id of the kit's nbgrader_config.py.
COURSE_ID = "fashion-mnist-lab"
#: Every user the harness adds starts with this, then 4 random hex digits, then the given name.
PREFIX = "ckx"
#: Linux user names are at most 32 characters.
MAX_LOGIN = 32
#: The names `unix_users` accepts (nbgrader forbids '+' in a student id).
NAME = re.compile(r"[a-z][a-z0-9_-]*")
#: How long one nbgrader command may run, in seconds.
TIMEOUT = 120
#: nbgrader logs failures and may still exit 0.
FAILURE = re.compile(r"\| (ERROR|CRITICAL)\]|^\[(ERROR|CRITICAL)\]", re.MULTILINE)
TOOLS = ("useradd", "userdel", "runuser")


def _require_root() -> None:
    """Skip the calling test unless this process is root and has the user tools."""
    if os.geteuid() != 0:
        pytest.skip("real Unix users need root (to run useradd, userdel and runuser)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"real Unix users need {', '.join(missing)} (not on PATH)")


def _processes_of(uid: int) -> list[int]:
    """The ids of the processes that run as `uid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:  # gone meanwhile
            continue
        match = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
        if match and int(match.group(1)) == uid:
            found.append(int(entry.name))
    return found


def _remove_user(login: str) -> None:
    """Stop `login`'s processes and remove the user, its group and its home folder."""
    try:
        uid = pwd.getpwnam(login).pw_uid
    except KeyError:
        return
    for _ in range(50):
        pids = _processes_of(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    done = subprocess.run(["userdel", "--remove", login], capture_output=True, text=True)
    # 12: the home folder could not be removed (or, on some systems, there was no mail spool)
    if done.returncode not in (0, 12):
        raise RuntimeError(f"userdel {login} failed ({done.returncode}): {done.stderr}")


def user_exists(login: str) -> bool:
    """Whether `getent passwd` still knows `login`."""
    done = subprocess.run(["getent", "passwd", login], capture_output=True, text=True)
    return done.returncode == 0


@contextmanager
def unix_users(names: Iterable[str]) -> Iterator[dict[str, pwd.struct_passwd]]:
    """Add a real user for each name (``useradd --create-home``), with a home of mode 0700.

    Each login is `PREFIX`, 4 random hex digits and the name, cut to 32 characters. At exit,
    even on failure, the users' processes are killed and the users removed with their homes.

    Yields:
        The users' `pwd` entries by the names given.
    """
    _require_root()
    names = list(names)
    for name in names:
        if not NAME.fullmatch(name):
            raise ValueError(f"{name!r}: use lowercase letters, digits, '_' and '-'")
    tag = secrets.token_hex(2)
    logins = {name: f"{PREFIX}{tag}{name}"[:MAX_LOGIN] for name in names}
    if len(set(logins.values())) != len(logins):
        raise ValueError(f"the names are not unique in their first characters: {names}")
    created: list[str] = []
    try:
        for login in logins.values():
            done = subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/bash", login],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(f"useradd {login} failed ({done.returncode}): {done.stderr}")
            created.append(login)
            os.chmod(pwd.getpwnam(login).pw_dir, 0o700)
        yield {name: pwd.getpwnam(login) for name, login in logins.items()}
    finally:
        errors = []
        for login in created:
            try:
                _remove_user(login)
            except (OSError, RuntimeError) as error:
                errors.append(str(error))
        if errors:
            raise RuntimeError("; ".join(errors))


@dataclass(frozen=True)
class Inbound:
    """One submission folder in the exchange's inbound folder."""

    name: str
    uid: int
    path: Path


def tiny_notebook() -> nbformat.NotebookNode:
    """An instructor notebook with one solution cell and one autograded test cell (1 point)."""

    def nbgrader(grade_id: str, **flags: object) -> dict:
        meta = {"grade": False, "solution": False, "locked": False, "task": False}
        meta.update(flags, grade_id=grade_id, schema_version=3)
        return {"nbgrader": meta}

    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "Write `add(a, b)`.", metadata=nbgrader("intro", locked=True)
            ),
            nbformat.v4.new_code_cell(
                "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                metadata=nbgrader("add", solution=True),
            ),
            nbformat.v4.new_code_cell(
                "assert add(1, 2) == 3",
                metadata=nbgrader("test_add", grade=True, locked=True, points=1),
            ),
        ],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def check(done: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    """`done` if it exited 0 and logged no error; otherwise an AssertionError with its output."""
    output = f"{done.stdout}{done.stderr}"
    assert done.returncode == 0 and not FAILURE.search(output), (
        f"{what} failed ({done.returncode}):\n{output}"
    )
    return done


def config_lines(root: Path, course_id: str) -> str:
    """The nbgrader settings that point instructor and students at the same exchange."""
    return f"c.Exchange.root = {str(root)!r}\nc.CourseDirectory.course_id = {course_id!r}\n"


class Exchange:
    """An exchange root under /tmp and an instructor's course folder that uses it.

    Use it as a context manager: the exchange is removed at exit (the course folder is the
    caller's, a `tmp_path` for instance).
    """

    def __init__(self, course: Path, course_id: str = COURSE_ID):
        """Create the exchange root and the course folder's nbgrader_config.py."""
        _require_root()
        # The students run nbgrader from this environment: as root, the grader opens the way to
        # it for other users (traverse only) as it does for kernels; a clone may sit in /root.
        open_path_to(python_paths())
        self.course_id = course_id
        self.course = course
        # pytest's tmp_path may be 0700: the students could not reach an exchange there
        self.base = Path(tempfile.mkdtemp(prefix="nbgrader-exchange-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.root = self.base / "exchange"
        self.root.mkdir()
        os.chmod(self.root, 0o1777)
        course.mkdir(parents=True, exist_ok=True)
        config = (ROOT / "nbgrader_config.py").read_text()
        (course / "nbgrader_config.py").write_text(
            f"{config}\n# The exchange\n{config_lines(self.root, course_id)}"
        )
        self._configured: set[int] = set()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the exchange (and every submission and feedback file in it)."""
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def course_path(self) -> Path:
        """The course's folder in the exchange (made by the first release)."""
        return self.root / self.course_id

    # --- the instructor (this process: root) ---

    def add_source(self, assignment: str, notebook: nbformat.NotebookNode | None = None) -> Path:
        """Put `source/ASSIGNMENT` in the course: the repository's, or `notebook` alone."""
        folder = self.course / "source" / assignment
        if notebook is None:
            shutil.copytree(ROOT / "source" / assignment, folder)
        else:
            folder.mkdir(parents=True)
            nbformat.write(notebook, folder / f"{assignment}.ipynb")
        return folder

    def instructor(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` as root in the course folder; fails on error."""
        done = subprocess.run(
            [str(BIN / "nbgrader"), *args],
            cwd=self.course,
            env=tool_env(PYTHONUNBUFFERED="1"),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        return check(done, f"nbgrader {' '.join(args)}")

    def release(self, assignment: str) -> subprocess.CompletedProcess:
        """``nbgrader generate_assignment`` then ``nbgrader release_assignment``."""
        self.instructor("generate_assignment", assignment, "--force")
        return self.instructor("release_assignment", assignment, "--force")

    def collect(self, assignment: str) -> subprocess.CompletedProcess:
        """``nbgrader collect --update``: the latest submissions into `submitted/`."""
        return self.instructor("collect", "--update", assignment)

    def release_feedback(self, assignment: str) -> subprocess.CompletedProcess:
        """``nbgrader release_feedback``: `feedback/*/ASSIGNMENT/*.html` into the exchange."""
        return self.instructor("release_feedback", assignment)

    def inbound(self) -> list[Inbound]:
        """The submission folders in the inbound folder, by name."""
        folder = self.course_path / "inbound"
        return [Inbound(p.name, p.stat().st_uid, p) for p in sorted(folder.iterdir())]

    # --- the students ---

    def env(self, user: pwd.struct_passwd) -> dict[str, str]:
        """The whole environment of a student's commands."""
        return {
            "HOME": user.pw_dir,
            "USER": user.pw_name,
            "LOGNAME": user.pw_name,
            "SHELL": user.pw_shell,
            "PATH": f"{BIN}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "JUPYTER_CONFIG_DIR": str(Path(user.pw_dir) / ".jupyter"),
            "PYTHONUNBUFFERED": "1",
        }

    def run_as(
        self,
        user: pwd.struct_passwd,
        args: Sequence[str],
        cwd: Path | None = None,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess:
        """Run `args` as `user` (``runuser``, a clean environment), in `cwd` (default: home).

        Returns:
            The finished process, with its output as text (whatever its exit status).
        """
        env = [f"{key}={value}" for key, value in self.env(user).items()]
        done = subprocess.run(
            ["runuser", "-u", user.pw_name, "--", "env", "-i", *env, *args],
            cwd=cwd or user.pw_dir,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            input=input,
            capture_output=True,
            timeout=TIMEOUT,
        )
        return subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    def as_user(
        self, user: pwd.struct_passwd, args: Sequence[str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        """`run_as` after making sure the student's nbgrader config is in place."""
        self.configure(user)
        return self.run_as(user, args, cwd)

    def write_as(self, user: pwd.struct_passwd, path: Path, data: bytes) -> None:
        """Write `data` to `path` as `user` (making its folder): it fails where they may not."""
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        done = self.run_as(user, ["/bin/sh", "-c", script, "sh", str(path)], input=data)
        check(done, f"writing {path} as {user.pw_name}")

    def configure(self, user: pwd.struct_passwd) -> Path:
        """Write the student's ``~/.jupyter/nbgrader_config.py`` (once); return its path."""
        path = Path(user.pw_dir) / ".jupyter" / "nbgrader_config.py"
        if user.pw_uid not in self._configured:
            text = "c = get_config()  # noqa: F821\n" + config_lines(self.root, self.course_id)
            self.write_as(user, path, text.encode())
            self._configured.add(user.pw_uid)
        return path

    def student(self, user: pwd.struct_passwd, *args: str) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` as `user` in their home; fails on error."""
        done = self.as_user(user, [str(BIN / "nbgrader"), *args])
        return check(done, f"nbgrader {' '.join(args)} as {user.pw_name}")

    def fetch(self, user: pwd.struct_passwd, assignment: str) -> Path:
        """``nbgrader fetch_assignment`` into the user's home; returns the assignment folder."""
        self.student(user, "fetch_assignment", assignment)
        return Path(user.pw_dir) / assignment

    def submit(
        self,
        user: pwd.struct_passwd,
        assignment: str,
        notebook_bytes: bytes | None = None,
        notebook: str | None = None,
    ) -> subprocess.CompletedProcess:
        """``nbgrader submit`` of the fetched assignment, first replacing the content of its
        notebook (`notebook`, default ``ASSIGNMENT.ipynb``) with `notebook_bytes` if given."""
        if notebook_bytes is not None:
            path = Path(user.pw_dir) / assignment / (notebook or f"{assignment}.ipynb")
            self.write_as(user, path, notebook_bytes)
        return self.student(user, "submit", assignment)

    def fetch_feedback(self, user: pwd.struct_passwd, assignment: str) -> dict[Path, str]:
        """``nbgrader fetch_feedback``; the feedback HTML in the user's home, path to text."""
        self.student(user, "fetch_feedback", assignment)
        folder = Path(user.pw_dir) / assignment / "feedback"
        return {p: p.read_text() for p in sorted(folder.rglob("*.html"))}
