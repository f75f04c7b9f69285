"""`service`: the exchange read from the course's config, arrivals kept once settled, attempts
decided by their policy, and each answer released once under nbgrader's own address."""

from __future__ import annotations

import os
import pwd
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.utils import notebook_hash

from course_utils.grading import service
from course_utils.grading.attempts import Policy
from course_utils.grading.jobs import GradingError
from course_utils.grading.service import Service, exchange_of, feedback_address
from course_utils.grading.service_db import Attempt
from course_utils.settings import SETTLE, Setting
from unit.builders import add_lab, empty_gradebook, notebook_bytes

ME = pwd.getpwuid(os.geteuid()).pw_name  # who hands in the submissions made here
NB = notebook_bytes("x = 1")
COURSE_ID = "fmnist"
DUE = datetime(2026, 12, 10, 23, 59, tzinfo=UTC)


def course(tmp_path: Path, policy: str = "{'lab': {'max_attempts': 2}}") -> Path:
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
        f"c.AttemptPolicy.assignments = {policy}\n"
    )
    (tmp_path / "exchange" / COURSE_ID / "inbound").mkdir(parents=True)
    return folder


def attempt(name: str, status: str, **values: object) -> Attempt:
    fields = {"received": "2026-12-04T07:26:45+00:00", "secret": "s3cret", **values}
    return Attempt(
        name,
        "lab",
        ME,
        ME,
        str(fields.pop("received")),
        str(fields.pop("secret")),
        '["lab"]',
        status,
        **fields,  # type: ignore[arg-type]
    )


def submit(inbound: Path, *, tag: str = "AbC123", complete: bool = True, **files: bytes) -> str:
    """A submission written as ``nbgrader submit`` writes one; its folder's name."""
    name = f"{ME}+lab+2026-12-04 07:26:44.540670 UTC+{tag}"
    (inbound / name).mkdir()
    for path, data in files.items():
        (inbound / name / path).write_bytes(data)
    (inbound / name / "timestamp.txt").write_text("2026-12-04 07:26:44.540670 UTC")
    (inbound / name / "submission_secret.txt").write_text("s3cret")
    if complete:
        os.chmod(inbound / name, 0o777)
    return name


@pytest.mark.parametrize(
    ("secret", "notebook_id"),
    [("s3cret", "lab"), ("0f1e2d3c4b5a", "lab3_part2"), ("é", "ü nb")],
)
def test_the_feedback_address_is_nbgraders(secret, notebook_id):
    expected = notebook_hash(secret=secret, notebook_id=notebook_id) + ".html"
    assert feedback_address(secret, notebook_id) == expected


def test_the_exchange_and_policies_come_from_the_course_config(tmp_path):
    root, course_id, policies = exchange_of(course(tmp_path))
    assert (root, course_id) == (tmp_path / "exchange", COURSE_ID)
    assert policies == {"lab": Policy(max_attempts=2)}


def test_the_exchange_root_defaults_to_nbgraders(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'x'\n"
    )
    from nbgrader.exchange.default.exchange import Exchange

    nbgraders = Exchange().root  # what nbgrader itself uses when no root is set
    assert nbgraders == "/usr/local/share/nbgrader/exchange"
    assert exchange_of(tmp_path) == (Path(nbgraders), "x", {})


def test_a_course_without_a_course_id_cannot_be_served(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(GradingError, match="sets no c.CourseDirectory.course_id"):
        exchange_of(tmp_path)


def test_a_folder_without_nbgraders_config_cannot_be_served(tmp_path):
    with pytest.raises(GradingError, match="has no nbgrader_config.py"):
        exchange_of(tmp_path)


def test_a_bad_attempt_policy_cannot_be_served(tmp_path):
    folder = course(tmp_path, policy="{'lab': {'max_attempts': 0}}")
    with pytest.raises(GradingError, match=r"c\.AttemptPolicy\.assignments\['lab'\]"):
        exchange_of(folder)


def test_the_service_serves_its_courses_exchange(tmp_path):
    served = Service(course(tmp_path), log=[].append)
    assert served.inbound == tmp_path / "exchange" / COURSE_ID / "inbound"
    assert served.outbound_feedback == tmp_path / "exchange" / COURSE_ID / "feedback"
    assert served.policies == {"lab": Policy(max_attempts=2)}
    served.run(once=True)  # nothing there: it returns
    assert served.record.attempts() == []


def test_a_refused_attempt_is_answered_once_under_its_address(tmp_path):
    logs: list[str] = []
    served = Service(course(tmp_path), log=logs.append)
    reason = "it names the student 'bob', but 'alice' handed it in"
    served.record.add(attempt("a+lab+t+1", "refused", reason=reason), {"lab.ipynb": NB})
    assert served.release()
    outbound = served.outbound_feedback
    page = outbound / feedback_address("s3cret", "lab")
    assert sorted(p.name for p in outbound.iterdir()) == [page.name]  # no temporary file left
    assert stat.S_IMODE(outbound.stat().st_mode) == 0o711
    assert stat.S_IMODE(page.stat().st_mode) == 0o644
    text = page.read_text()
    assert "Not graded: it names the student &#x27;bob&#x27;, but &#x27;alice&#x27;" in text
    assert "Your files are kept." in text and "Received 2026-12-04 07:26:45 UTC." in text
    assert "<title>lab: lab</title>" in text
    assert served.record.of("lab", ME)[0].released == 1
    assert logs == [f"a+lab+t+1: refused, feedback released to {ME}"]
    page.unlink()
    assert not served.release()  # released once
    assert list(outbound.iterdir()) == []


def test_an_attempt_too_soon_says_when_the_next_can_be(tmp_path):
    served = Service(course(tmp_path), log=[].append)
    reason = "graded attempts must be at least 15 minute(s) apart"
    served.record.add(
        attempt("a+lab+t+1", "refused", reason=reason, next_at="2026-12-04T07:41:45+00:00"),
        {"lab.ipynb": NB},
    )
    served.release()
    text = (served.outbound_feedback / feedback_address("s3cret", "lab")).read_text()
    assert "Your next attempt can be graded from 2026-12-04T07:41:45 UTC." in text


def test_a_graded_attempts_feedback_is_released_with_the_services_word_above(tmp_path):
    served = Service(course(tmp_path), log=[].append)
    graded = attempt("a+lab+t+1", "graded", number=1, score=3.0, max_score=4.0)
    served.record.add(graded, {"lab.ipynb": NB})
    kept = served.record.feedback(graded)
    kept.mkdir()
    (kept / "lab.html").write_text("<html><body class='f'><p>FEEDBACK</p></body></html>")
    served.release()
    text = (served.outbound_feedback / feedback_address("s3cret", "lab")).read_text()
    assert text.startswith("<html><body class='f'><div ")
    assert "Graded attempt 1 of 2; the last graded attempt counts" in text
    assert text.endswith("</div><p>FEEDBACK</p></body></html>")


def test_only_decided_attempts_are_released_and_none_without_a_secret(tmp_path):
    served = Service(course(tmp_path), log=[].append)
    served.record.add(attempt("a+lab+t+1", "new"), {})
    served.record.add(attempt("a+lab+t+2", "grading"), {})
    served.record.add(attempt("a+lab+t+3", "failed", secret="", reason="it crashed"), {})
    assert served.release()
    assert not served.outbound_feedback.exists()
    assert {a.name: a.released for a in served.record.attempts()} == {
        "a+lab+t+1": 0,
        "a+lab+t+2": 0,
        "a+lab+t+3": 1,
    }


@pytest.fixture
def settled(monkeypatch):
    """Submissions settle at once: kept on the second look that finds them unchanged."""
    monkeypatch.setattr(service, "SETTLE", Setting("settle", 0, "seconds", ""))


def test_a_submission_is_kept_on_the_second_look_that_finds_it_unchanged(tmp_path, settled):
    logs: list[str] = []
    served = Service(course(tmp_path), log=logs.append)
    name = submit(served.inbound, **{"lab.ipynb": NB})
    assert not served.keep_arrivals()  # first seen
    assert served.record.names() == set() and name in served.seen
    assert served.keep_arrivals()
    assert name not in served.seen
    (kept,) = served.record.attempts()
    assert (kept.name, kept.student, kept.owner, kept.status, kept.secret) == (
        name,
        ME,
        ME,
        "new",
        "s3cret",
    )
    assert kept.notebook_ids == ["lab"]
    assert sorted(os.listdir(served.record.folder(kept))) == ["lab.ipynb"]
    assert logs == [f"{name}: received from {ME}"]
    assert not served.keep_arrivals()  # kept once


def test_a_submission_that_changes_between_looks_waits(tmp_path, settled):
    served = Service(course(tmp_path), log=[].append)
    name = submit(served.inbound, **{"lab.ipynb": NB})
    served.keep_arrivals()
    (served.inbound / name / "more.txt").write_bytes(b"still writing")
    assert not served.keep_arrivals()
    assert served.keep_arrivals()
    assert "more.txt" in os.listdir(served.record.folder(served.record.attempts()[0]))


def test_a_submission_waits_its_settling_time(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "SETTLE", Setting("settle", 3600, "seconds", ""))
    served = Service(course(tmp_path), log=[].append)
    submit(served.inbound, **{"lab.ipynb": NB})
    assert not served.keep_arrivals() and not served.keep_arrivals()
    assert served.record.names() == set()
    assert SETTLE.default > 0  # the real one waits too


def test_incomplete_submissions_and_other_names_are_ignored(tmp_path, settled):
    served = Service(course(tmp_path), log=[].append)
    submit(served.inbound, complete=False, **{"lab.ipynb": NB})
    (served.inbound / "notes").mkdir(mode=0o777)
    os.chmod(served.inbound / "notes", 0o777)
    (served.inbound / "notes" / "submission_secret.txt").write_text("x")
    for _ in range(3):
        assert not served.keep_arrivals()
    assert served.seen == {} and served.record.names() == set()


def test_a_submission_refused_on_reading_is_kept_as_refused(tmp_path, settled):
    served = Service(course(tmp_path), log=[].append)
    name = submit(served.inbound, **{"notes.txt": b"no notebook"})
    served.keep_arrivals()
    served.keep_arrivals()
    (kept,) = served.record.attempts()
    assert (kept.name, kept.status, kept.reason) == (name, "refused", "it holds no notebook")


def test_an_exchange_that_cannot_be_read_stops_the_service(tmp_path):
    served = Service(course(tmp_path), log=[].append)
    served.inbound.rmdir()
    with pytest.raises(GradingError, match="the exchange's inbound cannot be read"):
        served.keep_arrivals()


@pytest.fixture
def deciding(tmp_path):
    """A service whose course has the assignment `lab`, due at DUE, in its gradebook."""
    folder = course(
        tmp_path,
        policy="{'lab': {'max_attempts': 2, 'min_interval': 900, 'late': 'hold'}}",
    )
    (folder / "source" / "lab").mkdir(parents=True)
    add_lab(empty_gradebook(folder / "gradebook.db"), "lab", {"c1": 1.0}, duedate=DUE)
    return Service(folder, log=[].append)


def test_new_attempts_are_decided_by_their_assignments_policy(deciding):
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    for tag, when in (("1", t0), ("2", t0 + timedelta(minutes=5)), ("3", DUE + timedelta(1))):
        deciding.record.add(attempt(f"a+lab+t+{tag}", "new", received=when.isoformat()), {})
    deciding.record.add(Attempt("a+nope+t+4", "nope", ME, ME, t0.isoformat(), "", "[]", "new"), {})
    assert deciding.decide()
    found = {a.name: a for a in deciding.record.attempts()}
    assert (found["a+lab+t+1"].status, found["a+lab+t+1"].number) == ("grading", 1)
    assert found["a+lab+t+2"].status == "refused"
    assert found["a+lab+t+2"].next_at == (t0 + timedelta(minutes=15)).isoformat()
    assert (found["a+lab+t+3"].status, found["a+lab+t+3"].next_at) == ("held", None)
    assert "after the due date" in found["a+lab+t+3"].reason
    assert found["a+nope+t+4"].status == "refused"
    assert found["a+nope+t+4"].reason == "the course has no assignment 'nope'"
    assert not deciding.decide()  # nothing new left
