"""The grading service: feedback on submit, with limited attempts, over nbgrader's exchange.

    python -m course_utils.grade serve [--course DIR] [--once] [grading flags]

It looks in the exchange's ``inbound/`` every ``--poll`` seconds (polling: it works the same on
a local disk and on the network file systems exchanges often live on, and a listing a second
costs nothing), keeps each complete submission once it has settled (`inbound`), decides by the
assignment's `attempts` policy whether it is graded, grades what is due with the kit's grader
(`grade_class`: sandbox, judge, limits, one worker pool for the batch), and releases each
attempt's feedback into the exchange's ``feedback/`` under nbgrader's own address, so that
``nbgrader fetch_feedback`` and JupyterLab's assignment list give it to that student alone.
An attempt that is not graded is kept and answered with a page that says why, and when the
next one can be. Every step is recorded (`service_db`) before the next: stopped at any moment,
the service resumes where it was on its next start.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from course_utils.grading import attempts, inbound
from course_utils.grading.jobs import GradingError, Limits
from course_utils.grading.service_db import Attempt, Record
from course_utils.grading.service_grading import Grading, grade_batch, settle_counted
from course_utils.layout import CourseFolder, ExchangeCourse
from course_utils.settings import POLL, SETTLE


def exchange_of(course: Path) -> tuple[Path, str, dict[str, attempts.Policy]]:
    """The exchange's root, the course id, and the attempt policies, from nbgrader's config."""
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    loader = PyFileConfigLoader(CourseFolder(course).config.name, path=str(course))
    try:
        config = loader.load_config()
    except ConfigFileNotFound:
        raise GradingError(f"{course} has no nbgrader_config.py: not a course folder") from None
    from nbgrader.exchange.default.exchange import Exchange

    default = Exchange.class_traits()["root"].default()  # nbgrader's own, where none is set
    root = config.get("Exchange", {}).get("root", default)
    course_id = config.get("CourseDirectory", {}).get("course_id", "")
    if not course_id:
        raise GradingError("nbgrader_config.py sets no c.CourseDirectory.course_id")
    try:
        policies = attempts.policies(config)
    except ValueError as error:
        raise GradingError(str(error)) from None
    return Path(str(root)), str(course_id), policies


def feedback_address(secret: str, notebook_id: str) -> str:
    """The file name nbgrader's ``fetch_feedback`` looks for."""
    from nbgrader.utils import notebook_hash

    return f"{notebook_hash(secret=secret, notebook_id=notebook_id)}.html"


class Service:
    """One course's grading service."""

    def __init__(
        self,
        course: Path,
        *,
        limits: Limits | None = None,
        workers: int | None = None,
        epochs: int | None = None,
        log: Callable[[str], None] = print,
    ):
        """Read the course's exchange and policies; open (or make) the service's record."""
        self.course = Path(course).resolve()
        self.root, self.course_id, self.policies = exchange_of(self.course)
        self.log = log
        self.record = Record(self.course)
        self.grading = Grading(
            self.course, self.record, self.policies, limits, workers, epochs, log
        )
        self.seen: dict[str, tuple[tuple[tuple[str, int, int, int], ...], float]] = {}

    @property
    def inbound(self) -> Path:
        """The exchange's inbound folder of this course."""
        return ExchangeCourse(self.root, self.course_id).inbound

    @property
    def outbound_feedback(self) -> Path:
        """The exchange's feedback folder of this course."""
        return ExchangeCourse(self.root, self.course_id).feedback

    def run(self, once: bool = False, poll: float = POLL.default) -> None:
        """Serve until stopped (Ctrl-C, SIGTERM), or once through what is there now."""
        idle_since = time.monotonic()
        while True:
            if self.step():
                idle_since = time.monotonic()
                continue
            # once: stop when nothing is left to settle, or what is left keeps changing
            if once and (not self.seen or time.monotonic() - idle_since > 10 * SETTLE.default):
                return
            time.sleep(poll)

    def step(self) -> bool:
        """One round: keep what arrived, decide, grade, release. Whether it did anything."""
        did = self.keep_arrivals()
        did = self.decide() or did
        did = self.grade() or did
        return self.release() or did

    def keep_arrivals(self) -> bool:
        """Keep each complete submission once it has stayed unchanged for `SETTLE` seconds."""
        try:
            names = sorted(os.listdir(self.inbound))
        except OSError as error:
            raise GradingError(f"the exchange's inbound cannot be read: {error}") from None
        known, kept = self.record.names(), False
        for name in names:
            if name in known or not inbound.parse(name):
                continue
            state = inbound.snapshot(self.inbound, name)
            if state is None:
                continue
            before = self.seen.get(name)
            if before is None or before[0] != state:
                self.seen[name] = (state, time.monotonic())
                continue
            if time.monotonic() - before[1] < SETTLE.default:
                continue
            del self.seen[name]
            try:
                handed = inbound.read(self.inbound, name)
            except OSError as error:
                self.log(f"{name}: not read yet ({error})")
                continue
            status = "refused" if handed.refused else "new"
            attempt = Attempt(
                name,
                handed.assignment,
                handed.student,
                handed.owner,
                handed.received.isoformat(),
                handed.secret,
                json.dumps(handed.notebooks),
                status,
                reason=handed.refused,
            )
            attempt.reason = attempt.reason[:300]
            self.record.add(attempt, handed.files)
            self.log(
                f"{name}: received from {handed.owner}"
                + (f", refused: {handed.refused}" if handed.refused else "")
            )
            kept = True
        return kept

    def decide(self) -> bool:
        """Decide each new attempt by its assignment's policy, oldest first."""
        new = self.record.attempts("status = 'new'")
        source = CourseFolder(self.course).source()
        known = {p.name for p in source.iterdir() if p.is_dir()} if source.is_dir() else set()
        for attempt in new:
            policy = self.policies.get(attempt.assignment, attempts.Policy())
            if attempt.assignment not in known:
                self.record.update(
                    attempt.name,
                    status="refused",
                    reason=f"the course has no assignment {attempt.assignment!r}",
                )
                continue
            earlier = [
                a.received_at
                for a in self.record.of(attempt.assignment, attempt.student)
                if a.status in ("grading", "graded") and a.name != attempt.name
            ]
            choice = attempts.decide(policy, earlier, attempt.received_at, self._due(attempt))
            if choice.grade:
                self.record.update(attempt.name, status="grading", number=choice.number)
            else:
                status = "held" if choice.late and policy.late == "hold" else "refused"
                self.record.update(
                    attempt.name,
                    status=status,
                    reason=choice.reason,
                    next_at=choice.next_at.isoformat() if choice.next_at else None,
                )
        return bool(new)

    def _due(self, attempt: Attempt) -> datetime | None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{CourseFolder(self.course).gradebook}") as gb:
            try:
                due = gb.find_assignment(attempt.assignment).duedate
            except MissingEntry:
                return None
        return due.replace(tzinfo=UTC) if due else None

    def grade(self) -> bool:
        """Grade the attempts due, one per student and assignment in each batch."""
        todo = self.record.attempts("status = 'grading'")
        batches: dict[str, dict[str, Attempt]] = {}
        for attempt in todo:
            batches.setdefault(attempt.assignment, {}).setdefault(attempt.student, attempt)
        for assignment, chosen in batches.items():
            grade_batch(self.grading, assignment, list(chosen.values()))
        counted = settle_counted(self.grading)
        return bool(todo) or counted

    def release(self) -> bool:
        """Release into the exchange each decided attempt's feedback or answer, once."""
        done = self.record.attempts(
            "released = 0 AND status IN ('graded', 'failed', 'refused', 'held')"
        )
        for attempt in done:
            pages = self._pages(attempt)
            if attempt.secret:
                self.outbound_feedback.mkdir(mode=0o711, parents=True, exist_ok=True)
                for notebook_id, page in pages.items():
                    target = self.outbound_feedback / feedback_address(attempt.secret, notebook_id)
                    tmp = target.with_name(f".{target.name}.tmp")
                    tmp.write_text(page)
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, target)
            self.record.update(attempt.name, released=1)
            self.log(f"{attempt.name}: {attempt.status}, feedback released to {attempt.owner}")
        return bool(done)

    def _pages(self, attempt: Attempt) -> dict[str, str]:
        policy = self.policies.get(attempt.assignment, attempts.Policy())
        banner = _banner(attempt, policy, self.record.of(attempt.assignment, attempt.student))
        kept = self.record.feedback(attempt)
        pages = {}
        for notebook_id in attempt.notebook_ids:
            made = kept / f"{notebook_id}.html"
            if attempt.status == "graded" and made.is_file():
                page = made.read_text(errors="replace")
                at = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
                pages[notebook_id] = page[:at] + banner + page[at:]
            else:
                title = html.escape(f"{attempt.assignment}: {notebook_id}")
                pages[notebook_id] = (
                    f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                    f"{title}</title></head><body>{banner}</body></html>"
                )
        return pages


def _banner(attempt: Attempt, policy: attempts.Policy, every: list[Attempt]) -> str:
    """What the service says about an attempt, above its feedback."""
    e = html.escape
    lines = [f"Received {attempt.received_at:%Y-%m-%d %H:%M:%S} UTC."]
    limit = f" of {policy.max_attempts}" if policy.max_attempts else ""
    if attempt.status == "graded":
        lines.append(
            f"Graded attempt {attempt.number}{limit}; the {policy.counts} graded "
            f"attempt counts for your grade."
        )
    elif attempt.status == "failed":
        lines.append(
            f"This attempt could not be graded: {attempt.reason}. It does not "
            "count against your attempts."
        )
    else:
        lines.append(f"Not graded: {attempt.reason}. Your files are kept.")
        if attempt.next_at:
            lines.append(f"Your next attempt can be graded from {attempt.next_at[:19]} UTC.")
    scores = [a for a in every if a.status == "graded" and a.score is not None]
    if scores and attempt.status != "graded":
        best = max(scores, key=lambda a: a.score or 0.0)
        lines.append(
            f"Graded so far: {len(scores)} attempt(s); best {best.score:g} of {best.max_score:g}."
        )
    body = "".join(f"<p>{e(line)}</p>" for line in lines)
    return f"<div style='border:2px solid #555;padding:0.5em;margin:0.5em'>{body}</div>"
