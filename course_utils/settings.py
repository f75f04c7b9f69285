"""Every setting of the kit, defined once: its default, its unit, where it may be set, which wins.

A setting is read from the first place that sets it, of those it lists: a flag of the grader's
command line (``--timeout 600``), an environment variable (``LAB_EPOCHS=1``), the course's
``nbgrader_config.py``, ``pyproject.toml``'s ``[tool.course-kit]``; else the default here. An
nbgrader setting that is also a flag is the value for nbgrader run by hand; the grader passes
its flag's value (whose default is this same definition) after the course's config.

The grader's flags are built from these definitions (`add_flag`); ``docs/settings.md`` is
written by ``python -m course_utils.settings > docs/settings.md`` and checked by the tests.
Only the standard library is imported: the kernel launcher reads this at every kernel start.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class Setting:
    """One setting: its default and unit, what it does, and where it may be set."""

    name: str
    default: Any
    unit: str
    help: str
    flag: str = ""  #: the grader's command-line flag
    env: str = ""  #: the environment variable
    config: str = ""  #: the ``nbgrader_config.py`` setting (``Class.trait``)
    pyproject: str = ""  #: the key in ``pyproject.toml``'s ``[tool.course-kit]``
    none: str = "none"  #: what a default of None (or "") means

    def places(self) -> list[str]:
        """Where it may be set, the strongest first."""
        return [
            text
            for text in (
                self.flag and f"flag `{self.flag}`",
                self.env and f"environment `{self.env}`",
                self.config and f"`nbgrader_config.py` `c.{self.config}`",
                self.pyproject and f"`pyproject.toml` `[tool.course-kit] {self.pyproject}`",
            )
            if text
        ] or ["fixed (change it here)"]

    def default_text(self) -> str:
        """The default as people write it ("4G", "3600 s")."""
        if self.default is None or self.default == "":
            return self.none
        if self.unit == "bytes" and isinstance(self.default, int) and self.default >= KiB:
            for size, letter in ((GiB, "G"), (MiB, "M"), (KiB, "K")):
                if self.default % size == 0:
                    return f"{self.default // size}{letter}"
        if self.unit == "seconds":
            return f"{self.default} s"
        return str(self.default)


SETTINGS: dict[str, Setting] = {}


def _define(name: str, default: Any, unit: str, help: str, **places: str) -> Setting:
    setting = Setting(name, default, unit, help, **places)
    SETTINGS[name] = setting
    return setting


# The grader: each submission's limits (`course_utils.grading.jobs.Limits` takes its defaults).
WORKERS = _define(
    "workers", None, "notebooks", "notebooks run at once (and as many more submissions starting)",
    flag="--workers", none="one per core",
)  # fmt: skip
SUBMISSION_TIMEOUT = _define(
    "submission_timeout",
    3600,
    "seconds",
    "time a whole notebook may run",
    flag="--timeout",
)
CELL_TIMEOUT = _define(
    "cell_timeout",
    1800,
    "seconds",
    "time one cell may run",
    flag="--cell-timeout",
    config="Execute.timeout",
)
STARTUP_TIMEOUT = _define(
    "startup_timeout",
    120,
    "seconds",
    "time a kernel may take to start",
    config="Execute.startup_timeout",
)
MEMORY = _define("memory", 4 * GiB, "bytes", "the student's kernel's data memory", flag="--memory")
JUDGE_MEMORY = _define(
    "judge_memory",
    0,
    "bytes",
    "the judge's own memory budget (0: as much as the kernel's)",
    flag="--judge-memory",
)
REQUEST_TIMEOUT = _define(
    "request_timeout",
    600,
    "seconds",
    "time the judge waits for the student's kernel to give a value or return from a call",
    flag="--request-timeout",
)
THREADS = _define(
    "threads",
    1,
    "threads",
    "TensorFlow threads per kernel, whatever the workers and cores: a network "
    "trains to the same weights only with the same thread count",
    flag="--threads",
)
SEED = _define(
    "seed",
    2024,
    "",
    "seed of Python's, NumPy's and Keras's random numbers, set in "
    "every kernel before the notebook's first cell",
    flag="--seed",
)
EPOCHS = _define(
    "epochs",
    None,
    "epochs",
    "grading length: train for this many epochs; docs/calibration.md says which lengths keep "
    "every score (the flag, else the grader's LAB_EPOCHS, reaches the kernel as LAB_EPOCHS)",
    flag="--epochs",
    env="LAB_EPOCHS",
    none="the notebook's own length (the lab's 10)",
)
MAX_OUTPUT = _define(
    "max_output_bytes",
    200_000,
    "bytes",
    "output kept per cell; the rest is dropped and counted",
)
DISK = _define(
    "disk",
    GiB,
    "bytes",
    "size of each of a kernel's in-memory folders (work, home, /tmp, /dev/shm)",
)
GRADER_MEMORY = _define(
    "grader_memory", 2 * GiB, "bytes", "data memory of nbgrader's own process per submission"
)
PROCESSES = _define("processes", 1024, "processes", "processes one kernel may start")
FEEDBACK_TIMEOUT = _define(
    "feedback_timeout", 600, "seconds", "time nbgrader may take to write one submission's feedback"
)
GRACE = _define(
    "grace",
    120,
    "seconds",
    "time nbgrader may take beyond the notebook's own, to start and to finish",
)
# The grading service (`python -m course_utils.grade serve`): attempts, per assignment.
MAX_ATTEMPTS = _define(
    "max_attempts",
    None,
    "attempts",
    "graded attempts per student",
    config="AttemptPolicy.assignments[A]['max_attempts']",
    none="no limit",
)
MIN_INTERVAL = _define(
    "min_interval",
    0,
    "seconds",
    "time between two graded attempts of a student",
    config="AttemptPolicy.assignments[A]['min_interval']",
)
COUNTS = _define(
    "counts",
    "last",
    "",
    "which graded attempt counts for the grade: 'last' or 'best'",
    config="AttemptPolicy.assignments[A]['counts']",
)
LATE = _define(
    "late",
    "grade",
    "",
    "an attempt after the due date: 'grade' (with the late penalty) or 'hold' (kept for the "
    "instructor)",
    config="AttemptPolicy.assignments[A]['late']",
)
POLL = _define(
    "poll", 1.0, "seconds", "how often the service looks for new submissions", flag="--poll"
)
SETTLE = _define(
    "settle",
    0.5,
    "seconds",
    "how long a complete submission must stay unchanged before the service reads it",
)
# The course.
PERCENT_PER_DAY = _define(
    "percent_per_day",
    10.0,
    "percent",
    "late penalty: percent of the score taken per day, or part of one",
    config="PercentPerDay.percent_per_day",
)
REPOSITORY = _define(
    "repository",
    "",
    "",
    "the students' repository: Colab badges and the helpers' install",
    pyproject="repository",
    none="required in pyproject.toml",
)
RELEASE_TAG = _define(
    "release_tag",
    "",
    "",
    "the students' repository's release tag",
    pyproject="release_tag",
    none="required in pyproject.toml",
)
# The data (students' side too).
DATA_DIR = _define(
    "data_dir",
    "",
    "",
    "a folder holding Fashion-MNIST's four IDX files, searched first",
    env="FASHION_MNIST_DIR",
    none="Keras's folder, then Debian's",
)
KERAS_HOME = _define(
    "keras_home", "~/.keras", "", "Keras's folder, where it downloads data", env="KERAS_HOME"
)


class Launcher:
    """The environment variables through which the grader configures the kernel launcher."""

    UID = "COURSE_KIT_UID"
    MEMORY = "COURSE_KIT_MEMORY"
    DATA = "COURSE_KIT_DATA"
    FOLDER = "COURSE_KIT_FOLDER"
    CGROUPS = "COURSE_KIT_CGROUPS"
    ISOLATE = "COURSE_KIT_ISOLATE"
    TMPFS = "COURSE_KIT_TMPFS"
    CPU = "COURSE_KIT_CPU"
    #: "judge" for the judge's kernel (its own mounts, quieter TensorFlow); empty: a student's
    ROLE = "COURSE_KIT_ROLE"
    #: folders the kernel may write, and folders it may only read, besides its own
    WRITABLE = "COURSE_KIT_WRITABLE"
    READONLY = "COURSE_KIT_READONLY"
    #: set in every graded kernel: the hand-in cell stays silent there
    GRADING = "COURSE_KIT_GRADING"
    #: the socket of the kernel server of the kernel's role (`course_utils.grading.judge_server`);
    #: empty: none
    SERVER = "COURSE_KIT_JUDGE_SERVER"


def add_flag(parser: argparse.ArgumentParser, setting: Setting, **kwargs: Any) -> None:
    """Add `setting`'s flag to `parser`, its help and default from the definition."""
    text = f"{setting.help} (default: {setting.default_text()})"
    kwargs.setdefault("type", type(setting.default) if setting.default is not None else int)
    if setting.unit == "bytes":
        kwargs["type"] = str
    kwargs.setdefault("metavar", {"seconds": "SECONDS", "bytes": "SIZE"}.get(setting.unit, "N"))
    parser.add_argument(
        setting.flag, dest=setting.name, default=None, help=text.replace("%", "%%"), **kwargs
    )


def markdown() -> str:
    """The settings as a Markdown page (``docs/settings.md``)."""
    lines = [
        "# Settings",
        "",
        "Every setting of the kit, written from `course_utils/settings.py` (`python -m "
        "course_utils.settings > docs/settings.md`). Where a setting may be set in more than "
        "one place, the first listed wins.",
        "",
        "| setting | default | unit | where to set it | what it does |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS.values():
        lines.append(
            f"| `{s.name}` | {s.default_text()} | {s.unit or '–'} | {'; '.join(s.places())} "
            f"| {s.help} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
