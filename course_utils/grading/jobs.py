"""What one submission may use (`Limits`), what a worker is given (`Job`) and returns (`Outcome`).

Jobs carry their files as bytes, so a worker may run on another machine (Dask) with the kit
installed but no shared folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from course_utils import settings as s
from course_utils.settings import GiB

#: The gradebook tables that hold one submission's results, parents first.
SUBMISSION_TABLES = ("submitted_assignment", "submitted_notebook", "grade", "comment")
#: One submission's rows in those tables, table by table (each row: column -> value).
Rows = dict[str, list[dict[str, Any]]]


class GradingError(RuntimeError):
    """The class cannot be graded as asked (missing course, gradebook or submissions)."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    submission_timeout: int = s.SUBMISSION_TIMEOUT.default
    cell_timeout: int = s.CELL_TIMEOUT.default
    memory: int = s.MEMORY.default
    max_output_bytes: int = s.MAX_OUTPUT.default
    isolate: bool = True
    judge: bool = True  # test cells in a judge process, apart from the student's kernel
    #: TensorFlow's (and OpenMP's) threads per kernel: fixed, so that neither the number of
    #: workers nor the machine's cores change what a network learns
    threads: int = s.THREADS.default
    #: the seed of Python's, NumPy's and Keras's random numbers, set before the first cell
    seed: int = s.SEED.default
    disk: int = (
        s.DISK.default
    )  # the size of each of the kernel's tmpfs (work, home, /tmp, /dev/shm)
    #: the judge's own memory budget, in bytes, apart from the kernel's; 0: as much as `memory`
    judge_memory: int = s.JUDGE_MEMORY.default
    #: seconds one request of the judge to the student's kernel (a name, a call) may take
    request_timeout: int = s.REQUEST_TIMEOUT.default
    #: data memory of nbgrader's own process per submission, which reads the kernels' outputs
    grader_memory: int = s.GRADER_MEMORY.default

    @property
    def memory_text(self) -> str:
        """The memory limit as people write it ("4 GiB")."""
        return f"{self.memory / GiB:g} GiB"

    @property
    def judge_budget(self) -> int:
        """The judge's memory budget in bytes (`judge_memory`, or as much as `memory`)."""
        return self.judge_memory or self.memory

    @property
    def judge_memory_text(self) -> str:
        """The judge's memory budget as people write it ("2 GiB")."""
        return f"{self.judge_budget / GiB:g} GiB"

    @property
    def outcome_settings(self) -> str:
        """What, beside the submission and the training length, decides its marks."""
        return f"seed={self.seed} threads={self.threads}"


def parse_size(text: str) -> int:
    """A size as people write it, in bytes.

    Args:
        text: ``"4G"``, ``"512M"``, ``"1.5GiB"`` or a plain number of bytes.

    Returns:
        The number of bytes.

    Raises:
        ValueError: `text` is not a size.
    """
    units = {"K": s.KiB, "M": s.MiB, "G": GiB, "T": GiB << 10}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


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
    epochs: int | None = None  # LAB_EPOCHS for the kernel; None: the notebook's own length
    #: each notebook's grade ids in the instructor's order, where test cells are put back
    cell_order: dict[str, list[str]] = field(default_factory=dict)
    #: notebooks its grading process runs at once (`course_utils.grading.cores`); 0: no limit
    cores: int = 0


@dataclass
class Outcome:
    """What a worker sends back: the gradebook rows and folders to install, or why not."""

    student: str
    digest: str
    ok: bool
    message: str
    rows: Rows = field(default_factory=dict)
    autograded: bytes = b""
    feedback: bytes = b""
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    judge_cpu: float = 0.0  # the judge's CPU seconds (in `cpu` too)
    judge_peak: int = 0  # the judge's peak memory in bytes
    log: str = ""
    copy_of: str = ""  # the student whose identical submission was graded for this one


def failure_reason(log: str) -> str:
    """nbgrader's last ``[ERROR]`` line in `log`, or a pointer to the log."""
    for line in reversed(log.splitlines()):
        if "[ERROR]" in line and "Please see" not in line:
            return line.split("[ERROR]", 1)[1].strip()
    return "nbgrader failed (see the log)"
