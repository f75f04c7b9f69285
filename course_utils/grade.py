"""Grade a whole class: every submission of an assignment, in parallel, isolated, leak-free.

    python -m course_utils.grade lab3_part2            # in the course folder
    python -m course_utils.grade lab3_part2 --workers 4 --csv grades.csv
    python -m course_utils.grade lab3_part2 --dask tcp://scheduler:8786

Each submission is graded by the real ``nbgrader autograde`` in a private copy of the course
(a scratch folder with the course's config, a copy of the gradebook trimmed to that student,
the submission and the assignment's non-notebook files). The results are then merged into the
course's gradebook by this process alone, one transaction per submission: the rows nbgrader
wrote for that submission replace the old ones, so the formgrader and ``nbgrader export`` see
what a plain ``nbgrader autograde`` would have written. Workers never open the course's
gradebook, so it cannot be left half-written, whatever a submission does.

Limits, per submission: a wall-clock limit for the whole notebook and one per cell (cells
after the limit are marked as not run and score 0), a data-memory limit for the kernel, and a
cap on the output kept per cell. When the grader runs as root, the student's kernel runs as a
user of its own that can read neither the course folder (source/, gradebook.db, submitted/,
...) nor the notebook being graded (it holds the hidden tests) nor other submissions.

Feedback is made in the same scratch folder by ``nbgrader generate_feedback``, with the
hidden tests removed (`course_utils.nbgrader_ext.HideHiddenTests`).

A run can be stopped at any time (Ctrl-C): submissions already merged stay graded, and the
next run grades only those that are not (or that were resubmitted since).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import hashlib
import io
import os
import pwd
import secrets
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

SUBMISSION_TABLES = ("submitted_assignment", "submitted_notebook", "grade", "comment")
MARKER = ".graded-submission"
GRACE_SECONDS = 120
MAX_RETURNED_FILE = 50 * 2**20
FIRST_UID = 200_000


class GradingError(RuntimeError):
    """The class cannot be graded as asked (missing course, gradebook or submissions)."""


# --------------------------------------------------------------------------- settings


@dataclass
class Limits:
    """What one submission may use."""

    submission_timeout: int = 3600
    cell_timeout: int = 1800
    memory: int = 4 * 2**30
    max_output_bytes: int = 200_000
    isolate: bool = True
    threads: int = 0  # TensorFlow threads per kernel; 0: cores / workers

    @property
    def memory_text(self) -> str:
        return f"{self.memory / 2**30:g} GiB"


def parse_size(text: str) -> int:
    """'4G', '512M', '1048576' -> bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# --------------------------------------------------------------------------- one submission


@dataclass
class Job:
    """Everything a worker needs to grade one submission, as bytes (it may run elsewhere)."""

    assignment: str
    student: str
    config: str
    gradebook: bytes
    submission: bytes
    source_files: bytes
    digest: str
    limits: Limits
    feedback: bool = True


@dataclass
class Outcome:
    """What a worker sends back."""

    student: str
    digest: str
    ok: bool
    message: str
    rows: dict[str, list[dict]] = field(default_factory=dict)
    autograded: bytes = b""
    feedback: bytes = b""
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    log: str = ""


def tar_folder(folder: Path, max_file: int | None = None) -> bytes:
    """A gzipped tar of `folder`'s contents (files over `max_file` bytes are left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            if max_file is not None and path.is_file() and path.stat().st_size > max_file:
                continue
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def untar(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def _kit_config(course: Path, limits: Limits) -> str:
    """nbgrader settings the grader adds after the course's own."""
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import Execute

    def name(cls) -> str:
        return cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__name__}"

    guarded = "course_utils.nbgrader_ext.GuardedExecute"
    autograde = [guarded if cls is Execute else name(cls)
                 for cls in Autograde.class_traits()["autograde_preprocessors"].default()]
    feedback = [name(cls) for cls in GenerateFeedback.class_traits()["preprocessors"].default()]
    hide = "course_utils.nbgrader_ext.HideHiddenTests"
    return "\n".join([
        "",
        "# Added by course_utils.grade for this submission.",
        f"c.CourseDirectory.root = {str(course)!r}",
        f"c.Autograde.autograde_preprocessors = {autograde!r}",
        f"c.GenerateFeedback.preprocessors = {[hide] + [f for f in feedback if f != hide]!r}",
        f"c.GuardedExecute.timeout = {limits.cell_timeout}",
        f"c.GuardedExecute.submission_timeout = {limits.submission_timeout}",
        f"c.GuardedExecute.max_output_bytes = {limits.max_output_bytes}",
        f"c.GuardedExecute.memory_note = {limits.memory_text!r}",
        "",
    ])


_DATA_LOCK = threading.Lock()
_STAGED_DATA: Path | None = None


def staged_data() -> Path:
    """A copy of the data set that any user can read (made once per worker process)."""
    global _STAGED_DATA
    with _DATA_LOCK:
        if _STAGED_DATA is None or not _STAGED_DATA.exists():
            from course_utils.data import FILES, locate

            source = locate()
            folder = Path(tempfile.mkdtemp(prefix="course-kit-data-"))
            for spec in FILES:
                shutil.copy(source / spec.filename, folder / spec.filename)
                os.chmod(folder / spec.filename, 0o644)
            os.chmod(folder, 0o755)
            _STAGED_DATA = folder
        return _STAGED_DATA


def _free_uid() -> int:
    import psutil

    used = {p.info["uids"].real for p in psutil.process_iter(["uids"]) if p.info["uids"]}
    while True:
        uid = FIRST_UID + secrets.randbelow(1_000_000)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in used:
                return uid


def kill_user(uid: int) -> int:
    """Kill every process of `uid` (what a submission may have left behind). Returns how many."""
    import psutil

    killed = 0
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids and uid in (uids.real, uids.effective):
            try:
                process.kill()
                killed += 1
            except psutil.Error:
                pass
    return killed


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _die_with_parent() -> None:
    """In the child, before exec: be killed if the worker that started it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(command: list[str], cwd: Path, env: dict, timeout: float, log: Path) -> tuple[int | None, float, float, int]:
    """Run `command` in its own process group; kill the group at `timeout`.

    Returns (exit status or None if killed for time, wall s, CPU s, peak RSS bytes of the
    largest process, the kernel included).
    """
    start = time.monotonic()
    with _RUNNING_LOCK:
        if _STOPPING.is_set():
            return None, 0.0, 0.0, 0
        with open(log, "ab") as out:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        _RUNNING.add(proc)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:  # the kernel and anything else left in the group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    wall = time.monotonic() - start
    return (None if timed_out.is_set() else proc.returncode), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def stop_all() -> None:
    """Kill every grading process this process started (on Ctrl-C)."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        for proc in list(_RUNNING):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _rows(db: Path, assignment: str, student: str) -> dict[str, list[dict]]:
    """The rows nbgrader wrote for one submission, table by table."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        sub = con.execute(
            "SELECT s.* FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
            "WHERE a.name = ? AND s.student_id = ?", (assignment, student)).fetchall()
        ids = [r["id"] for r in sub]
        nbs = con.execute(
            f"SELECT * FROM submitted_notebook WHERE assignment_id IN ({','.join('?' * len(ids))})", ids
        ).fetchall() if ids else []
        nb_ids = [r["id"] for r in nbs]
        marks = ",".join("?" * len(nb_ids))
        grades = con.execute(f"SELECT * FROM grade WHERE notebook_id IN ({marks})", nb_ids).fetchall() if nb_ids else []
        comments = con.execute(f"SELECT * FROM comment WHERE notebook_id IN ({marks})", nb_ids).fetchall() if nb_ids else []
    finally:
        con.close()
    return {name: [dict(r) for r in rows]
            for name, rows in zip(SUBMISSION_TABLES, (sub, nbs, grades, comments))}


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _failure_reason(log: str) -> str:
    for line in reversed(log.splitlines()):
        if "[ERROR]" in line and "Please see" not in line:
            return line.split("[ERROR]", 1)[1].strip()
    return "nbgrader failed (see the log)"


def grade_submission(job: Job) -> Outcome:
    """Autograde one submission in a scratch copy of the course. Runs in a worker."""
    limits = job.limits
    root = Path(tempfile.mkdtemp(prefix="course-kit-grade-"))
    isolate = limits.isolate and os.geteuid() == 0
    uid = _free_uid() if isolate else None
    try:
        os.chmod(root, 0o711)
        course = root / "course"
        for folder, mode in ((course, 0o711), (course / "autograded", 0o711),
                             (course / "autograded" / job.student, 0o711)):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, mode)
        (course / "nbgrader_config.py").write_text(job.config + _kit_config(course, limits))
        (course / "gradebook.db").write_bytes(job.gradebook)
        untar(job.submission, course / "submitted" / job.student / job.assignment)
        untar(job.source_files, course / "source" / job.assignment)
        for private in ("nbgrader_config.py", "gradebook.db", "submitted", "source"):
            os.chmod(course / private, 0o700 if (course / private).is_dir() else 0o600)
        from course_utils.sandbox import kernel_spec

        jupyter = kernel_spec(root / "jupyter")
        runtime = root / "runtime"
        runtime.mkdir(mode=0o700)
        bin_dir = str(Path(sys.executable).parent)
        threads = str(limits.threads or 1)
        env = {
            **os.environ,
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "JUPYTER_PATH": str(jupyter),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
            "PYTHONUNBUFFERED": "1",
            "COURSE_KIT_HOME": str(root / "home"),
            "COURSE_KIT_MEMORY": str(limits.memory),
            "COURSE_KIT_DATA": str(staged_data()),
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": threads,
            "OMP_NUM_THREADS": threads,
        }
        env.pop("NBGRADER_EXECUTION", None)
        if uid is not None:
            env["COURSE_KIT_UID"] = str(uid)
        log = root / "nbgrader.log"
        nbgrader = [sys.executable, "-m", "nbgrader"]
        status, wall, cpu, peak = _run(
            nbgrader + ["autograde", job.assignment, "--student", job.student, "--force"],
            course, env, limits.submission_timeout + GRACE_SECONDS, log)
        if uid is not None:
            kill_user(uid)
        text = _tail(log, 400)
        outcome = Outcome(job.student, job.digest, False, "", wall=wall, cpu=cpu, peak_rss=peak, log=text)
        graded = course / "autograded" / job.student / job.assignment
        if status is None:
            outcome.message = f"stopped: grading ran over {limits.submission_timeout + GRACE_SECONDS} s"
            return outcome
        if status != 0 or not graded.is_dir():
            outcome.message = _failure_reason(text)
            return outcome
        outcome.rows = _rows(course / "gradebook.db", job.assignment, job.student)
        if not outcome.rows["submitted_assignment"]:
            outcome.message = "nbgrader wrote no grades"
            return outcome
        outcome.autograded = tar_folder(graded, MAX_RETURNED_FILE)
        if job.feedback:
            status, *_ = _run(nbgrader + ["generate_feedback", job.assignment, "--student", job.student, "--force"],
                              course, env, 600, log)
            made = course / "feedback" / job.student / job.assignment
            if status != 0 or not made.is_dir():
                outcome.message = "graded, but feedback failed: " + _failure_reason(_tail(log, 400))
                return outcome
            outcome.feedback = tar_folder(made)
        outcome.ok = True
        outcome.message = "graded"
        return outcome
    finally:
        if uid is not None:
            kill_user(uid)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the class


def submission_digest(folder: Path) -> str:
    """A digest of every file in a submission folder (a resubmission changes it)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _snapshot(db: Path, student: str) -> bytes:
    """The gradebook with only `student`'s submissions (the worker needs no one else's)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "gradebook.db"
        src, dst = sqlite3.connect(db, timeout=60), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
        try:
            others = "SELECT id FROM submitted_assignment WHERE student_id != ?"
            nbs = f"SELECT id FROM submitted_notebook WHERE assignment_id IN ({others})"
            dst.execute(f"DELETE FROM grade WHERE notebook_id IN ({nbs})", (student,))
            dst.execute(f"DELETE FROM comment WHERE notebook_id IN ({nbs})", (student,))
            dst.execute(f"DELETE FROM submitted_notebook WHERE assignment_id IN ({others})", (student,))
            dst.execute("DELETE FROM submitted_assignment WHERE student_id != ?", (student,))
            dst.execute("DELETE FROM student WHERE id != ?", (student,))
            dst.commit()
            dst.execute("VACUUM")
        finally:
            dst.close()
        return copy.read_bytes()


def merge(db: Path, assignment: str, student: str, rows: dict[str, list[dict]]) -> None:
    """Replace `student`'s submission of `assignment` in the gradebook by `rows`, atomically."""
    con = sqlite3.connect(db, timeout=120)
    try:
        with con:
            old = [r[0] for r in con.execute(
                "SELECT s.id FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
                "WHERE a.name = ? AND s.student_id = ?", (assignment, student))]
            for sub_id in old:
                nbs = "SELECT id FROM submitted_notebook WHERE assignment_id = ?"
                con.execute(f"DELETE FROM grade WHERE notebook_id IN ({nbs})", (sub_id,))
                con.execute(f"DELETE FROM comment WHERE notebook_id IN ({nbs})", (sub_id,))
                con.execute("DELETE FROM submitted_notebook WHERE assignment_id = ?", (sub_id,))
                con.execute("DELETE FROM submitted_assignment WHERE id = ?", (sub_id,))
            for table in SUBMISSION_TABLES:
                for row in rows[table]:
                    columns = ", ".join(row)
                    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                                tuple(row.values()))
    finally:
        con.close()


def _replace_folder(data: bytes, dest: Path) -> None:
    """Unpack `data` next to `dest`, then swap it in (a reader never sees half a folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".incoming-", dir=dest.parent))
    untar(data, fresh)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fresh, 0o777 & ~umask)
    old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    fresh.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _python_paths() -> list[Path]:
    """What a kernel must be able to read: the interpreter, its packages, this package."""
    import course_utils

    paths = {Path(sys.executable).resolve(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(course_utils.__file__).resolve().parent}
    return sorted(paths)


def open_path_to(paths: list[Path]) -> list[Path]:
    """Let other users traverse (not list) the folders above `paths`. Returns those changed."""
    changed = []
    for path in paths:
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, mode | stat.S_IXOTH)
                changed.append(folder)
    return changed


def protect_course(course: Path, keep: list[Path]) -> list[Path]:
    """Take other users' rights away from the course folder, except on the paths in `keep`.

    The course folder itself stays traversable if a kept path (the Python environment, this
    package) lies inside it; everything else in it becomes unreadable to other users.
    Returns the paths changed.
    """
    course = course.resolve()
    inside = [k for k in keep if k == course or course in k.parents]
    changed = []

    def drop(path: Path, keep_traverse: bool = False) -> None:
        mode = path.lstat().st_mode
        new = mode & ~(stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH)
        if keep_traverse:
            new |= stat.S_IXOTH
        if new != mode and not path.is_symlink():
            os.chmod(path, new)
            changed.append(path)

    if not inside:
        drop(course)
        return changed
    drop(course, keep_traverse=True)
    for entry in course.iterdir():
        if not any(entry == k or entry in k.parents for k in inside):
            drop(entry)
    return changed


class _Shield:
    """Defers Ctrl-C (and SIGTERM) while a result is being written, so none is half-written."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def handler(self, signum, frame) -> None:
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def held(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt


@dataclass
class Report:
    assignment: str
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    wall: float = 0.0
    csv: Path | None = None


class LocalExecutor:
    """Worker threads on this machine, each driving one nbgrader process at a time."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="grade")

    def submit(self, job: Job):
        return self.pool.submit(grade_submission, job)

    @staticmethod
    def wait(futures):
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskExecutor:
    """Workers of a dask.distributed cluster: an address, or "local" for a LocalCluster here.

    Jobs carry their files as bytes, so workers need the course kit installed but no shared
    folder; results come back to this process, which alone writes the gradebook.
    """

    def __init__(self, address: str, workers: int):
        from distributed import Client, LocalCluster

        self.cluster = None
        if address == "local":
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None)
            address = self.cluster.scheduler_address
        self.client = Client(address)
        self.workers = max(1, len(self.client.scheduler_info()["workers"]))

    def submit(self, job: Job):
        return self.client.submit(grade_submission, job, pure=False, key=f"grade-{job.student}-{secrets.token_hex(4)}")

    @staticmethod
    def wait(futures):
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self, cancel: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def find_submissions(course: Path, assignment: str) -> dict[str, Path]:
    submitted = course / "submitted"
    return {p.parent.name: p for p in sorted(submitted.glob(f"*/{assignment}")) if p.is_dir()}


def _check_course(course: Path, assignment: str) -> Path:
    if not (course / "nbgrader_config.py").is_file():
        raise GradingError(f"{course} is not a course folder: it has no nbgrader_config.py")
    db = course / "gradebook.db"
    if not db.is_file():
        raise GradingError(f"{db} does not exist: run `nbgrader generate_assignment {assignment}` first")
    con = sqlite3.connect(db)
    try:
        found = con.execute("SELECT 1 FROM assignment WHERE name = ?", (assignment,)).fetchone()
    except sqlite3.DatabaseError as error:
        raise GradingError(f"{db} is not an nbgrader gradebook: {error}") from error
    finally:
        con.close()
    if not found:
        raise GradingError(f"assignment {assignment!r} is not in {db}: run `nbgrader generate_assignment {assignment}`")
    return db


def _is_done(course: Path, db: Path, assignment: str, student: str, digest: str) -> bool:
    marker = course / "autograded" / student / assignment / MARKER
    if not marker.is_file() or marker.read_text().strip() != digest:
        return False
    return bool(_rows(db, assignment, student)["submitted_assignment"])


def write_csv(course: Path, assignment: str, path: Path, failed: dict[str, str]) -> Path:
    """One row per student: score, maximum, whether manual grading is pending, status."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        rows = sorted(gb.submission_dicts(assignment), key=lambda r: r["student"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", "score", "max_score", "needs_manual_grade", "timestamp", "status"])
        for r in rows:
            status = f"failed: {failed[r['student']]}" if r["student"] in failed else "graded"
            writer.writerow([r["student"], f"{r['score']:g}", f"{r['max_score']:g}",
                             r["needs_manual_grade"], r["timestamp"] or "", status])
        for student in sorted(set(failed) - {r["student"] for r in rows}):
            writer.writerow([student, "", "", "", "", f"failed: {failed[student]}"])
    return path


def grade_class(
    course: Path,
    assignment: str,
    workers: int | None = None,
    limits: Limits | None = None,
    students: list[str] | None = None,
    force: bool = False,
    feedback: bool = True,
    dask: str | None = None,
    csv_path: Path | None = None,
    progress: bool = True,
    log=print,
) -> Report:
    """Autograde every submission of `assignment` in `course`; see the module's docstring."""
    from tqdm import tqdm

    course = Path(course).resolve()
    db = _check_course(course, assignment)
    found = find_submissions(course, assignment)
    if students:
        missing = sorted(set(students) - set(found))
        if missing:
            raise GradingError(f"no submission of {assignment} for: {', '.join(missing)}")
        found = {s: found[s] for s in students}
    if not found:
        raise GradingError(f"no submissions in {course / 'submitted'}/*/{assignment}")
    limits = limits or Limits()
    workers = workers or os.cpu_count() or 1
    if not limits.threads:
        limits.threads = max(1, (os.cpu_count() or 1) // workers)
    report = Report(assignment)
    start = time.monotonic()

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        for student in found:
            gb.update_or_create_student(student)
    digests = {s: submission_digest(p) for s, p in found.items()}
    todo = []
    for student in found:
        if not force and _is_done(course, db, assignment, student, digests[student]):
            report.skipped.append(student)
        else:
            todo.append(student)
    if report.skipped:
        log(f"{len(report.skipped)} submission(s) already graded and unchanged: skipped (--force regrades them)")

    if limits.isolate and os.geteuid() == 0:
        for folder in ("autograded", "feedback", "grades"):  # made now, so that they are closed too
            (course / folder).mkdir(exist_ok=True)
        keep = _python_paths()
        changed = protect_course(course, keep) + open_path_to(keep + [Path(tempfile.gettempdir()).resolve()])
        for path in changed:
            log(f"permissions: {path} is now {stat.filemode(path.stat().st_mode)}")
    elif limits.isolate:
        log("not running as root: student code runs as this user (run as root to isolate it)")

    config = (course / "nbgrader_config.py").read_text()
    source = course / "source" / assignment
    source_files = io.BytesIO()
    with tarfile.open(fileobj=source_files, mode="w:gz") as tar:
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                    tar.add(path, arcname=str(path.relative_to(source)))
    source_bytes = source_files.getvalue()

    def job(student: str) -> Job:
        return Job(assignment, student, config, _snapshot(db, student), tar_folder(found[student]),
                   source_bytes, digests[student], limits, feedback)

    _STOPPING.clear()
    shield = _Shield()
    executor = DaskExecutor(dask, workers) if dask else LocalExecutor(workers)
    bar = tqdm(total=len(todo), unit="submission", disable=not progress or not todo, dynamic_ncols=True)
    pending = list(todo)
    running: dict = {}
    stack = contextlib.ExitStack()
    stack.enter_context(shield.installed())
    try:
        while pending or running:
            while pending and len(running) < 2 * executor.workers:
                student = pending.pop(0)
                running[executor.submit(job(student))] = student
            for future in executor.wait(list(running)):
                student = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:  # a worker that died: report, go on
                    outcome = Outcome(student, digests[student], False, f"worker error: {error!r}",
                                      log=traceback.format_exc())
                report.outcomes[student] = outcome
                if outcome.ok:
                    with shield.held():
                        merge(db, assignment, student, outcome.rows)
                        graded = course / "autograded" / student / assignment
                        _replace_folder(outcome.autograded, graded)
                        if outcome.feedback:
                            _replace_folder(outcome.feedback, course / "feedback" / student / assignment)
                        (graded / MARKER).write_text(outcome.digest)
                    report.graded.append(student)
                else:
                    logs = course / "grades" / "logs" / assignment
                    logs.mkdir(parents=True, exist_ok=True)
                    (logs / f"{student}.log").write_text(outcome.log)
                    report.failed[student] = outcome.message
                    bar.write(f"{student}: failed: {outcome.message} (log: {logs / student}.log)", file=sys.stderr)
                bar.update(1)
                bar.set_postfix(failed=len(report.failed))
    except BaseException:
        executor.close(cancel=True)
        stop_all()
        raise
    else:
        executor.close()
    finally:
        bar.close()
        stack.close()
    report.wall = time.monotonic() - start
    report.csv = write_csv(course, assignment, csv_path or course / "grades" / f"{assignment}.csv", report.failed)
    log(f"{assignment}: {len(report.graded)} graded, {len(report.failed)} failed, "
        f"{len(report.skipped)} skipped in {report.wall:.0f} s; grades in {report.csv}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Autograde every submission of an assignment with nbgrader, in parallel.")
    parser.add_argument("assignment")
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course folder (default: here)")
    parser.add_argument("--workers", type=int, default=None, help="parallel submissions (default: one per core)")
    parser.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    parser.add_argument("--timeout", type=int, default=Limits.submission_timeout,
                        help="seconds a whole notebook may run (default %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=Limits.cell_timeout,
                        help="seconds one cell may run (default %(default)s)")
    parser.add_argument("--memory", default="4G", help="kernel data-memory limit (default %(default)s)")
    parser.add_argument("--no-isolation", action="store_true",
                        help="as root, run student code as root too (not recommended)")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="grade on a dask.distributed scheduler (or 'local' for a LocalCluster here)")
    parser.add_argument("--csv", type=Path, help="where to write the grades (default grades/ASSIGNMENT.csv)")
    args = parser.parse_args(argv)
    limits = Limits(submission_timeout=args.timeout, cell_timeout=args.cell_timeout,
                    memory=parse_size(args.memory), isolate=not args.no_isolation)
    try:
        report = grade_class(args.course, args.assignment, args.workers, limits, args.students,
                             args.force, not args.no_feedback, args.dask, args.csv)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: submissions graded so far are saved; run again to grade the rest",
              file=sys.stderr)
        return 130
    return 1 if report.failed else 0


if __name__ == "__main__":
    # Run the imported module's main, so that jobs refer to `course_utils.grade`, not
    # `__main__` (dask workers import them by name).
    from course_utils.grade import main as _main

    sys.exit(_main())
