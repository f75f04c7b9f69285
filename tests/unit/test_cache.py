"""`cache.Results`: kept results come back whole, or not at all."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from course_utils.grading.archive import tar_folder
from course_utils.grading.cache import Results
from course_utils.grading.jobs import Outcome

KEY = "a" * 64
ROWS = {
    "submitted_assignment": [{"id": "sa", "student_id": "ann"}],
    "submitted_notebook": [{"id": "sn", "assignment_id": "sa"}],
    "grade": [{"id": "g", "notebook_id": "sn", "auto_score": 1.0}],
    "comment": [],
}


@pytest.fixture
def outcome(tmp_path):
    (tmp_path / "graded").mkdir()
    (tmp_path / "graded" / "lab.ipynb").write_text("{}")
    return Outcome(
        "ann",
        "digest",
        True,
        "graded",
        rows=ROWS,
        autograded=tar_folder(tmp_path / "graded"),
        feedback=tar_folder(tmp_path / "graded"),
        wall=12.5,
        cpu=10.0,
        peak_rss=1 << 20,
    )


@pytest.fixture
def results(tmp_path):
    return Results(tmp_path / "course", "lab")


def test_a_kept_outcome_comes_back_as_it_was_put(results, outcome):
    assert results.get(KEY) is None
    results.put(KEY, outcome)
    got = results.get(KEY)
    assert got == outcome
    assert results.get("b" * 64) is None


def test_the_results_are_closed_to_other_users(tmp_path, results, outcome):
    results.put(KEY, outcome)
    for folder in (tmp_path / "course" / ".course-kit", results.folder, results.folder / KEY):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert results.folder == tmp_path / "course" / ".course-kit" / "results" / "lab"


def test_failures_and_copies_are_not_kept(results, outcome):
    from dataclasses import replace

    results.put(KEY, replace(outcome, ok=False, message="timeout"))
    results.put(KEY, replace(outcome, copy_of="bob"))
    assert results.get(KEY) is None
    assert list(results.folder.iterdir()) == []


def test_putting_again_replaces_the_entry_and_leaves_nothing_half_written(results, outcome):
    from dataclasses import replace

    results.put(KEY, outcome)
    results.put(KEY, replace(outcome, message="graded (no feedback)", feedback=b""))
    assert results.get(KEY).message == "graded (no feedback)"
    assert results.get(KEY).feedback == b""
    assert [p.name for p in results.folder.iterdir()] == [KEY]


def corrupt(entry, how: str) -> None:
    meta_path = entry / "outcome.json"
    meta = json.loads(meta_path.read_text())
    if how == "truncated":
        meta_path.write_text(meta_path.read_text()[:20])
    elif how == "not an object":
        meta_path.write_text("[1, 2]")
    elif how == "missing key":
        del meta["rows"]
        meta_path.write_text(json.dumps(meta))
    elif how in ("rows null", "rows a list", "grade rows not rows", "wall a string"):
        meta.update(
            {
                "rows null": {"rows": None},
                "rows a list": {"rows": [1, 2]},
                "grade rows not rows": {"rows": {**ROWS, "grade": ["g"]}},
                "wall a string": {"wall": "long"},
            }[how]
        )
        meta_path.write_text(json.dumps(meta))
    elif how == "no feedback file":
        (entry / "feedback.tar.gz").unlink()
    elif how == "autograded not a tar":
        (entry / "autograded.tar.gz").write_bytes(b"\x1f\x8b garbage")
    elif how == "autograded truncated":
        data = (entry / "autograded.tar.gz").read_bytes()
        (entry / "autograded.tar.gz").write_bytes(data[: len(data) // 2])
    elif how == "feedback not a tar":
        (entry / "feedback.tar.gz").write_bytes(b"not a tar")


@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "not an object",
        "missing key",
        "rows null",
        "rows a list",
        "grade rows not rows",
        "wall a string",
        "no feedback file",
        "autograded not a tar",
        "autograded truncated",
        "feedback not a tar",
    ],
)
def test_a_corrupt_entry_is_ignored(results, outcome, how):
    results.put(KEY, outcome)
    corrupt(results.folder / KEY, how)
    assert results.get(KEY) is None


def test_a_link_or_a_file_in_place_of_an_entry_is_ignored(tmp_path, results, outcome):
    results.put(KEY, outcome)
    shutil.move(results.folder / KEY, tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", results.folder / KEY)
    assert results.get(KEY) is None
    (results.folder / KEY).unlink()
    (results.folder / KEY).write_text("{}")
    assert results.get(KEY) is None


def test_a_half_written_entry_is_never_read(results, outcome):
    results.put(KEY, outcome)
    (results.folder / KEY).rename(results.folder / f".incoming-{KEY}")
    assert results.get(KEY) is None


def test_an_entry_that_cannot_be_written_leaves_nothing_behind(results, outcome):
    (results.folder / KEY).write_text("in the way")  # a file where the entry's folder goes
    results.put(KEY, outcome)  # no error: a kept result only saves time
    assert results.get(KEY) is None
    assert [p.name for p in results.folder.iterdir()] == [KEY]


def test_results_are_kept_apart_by_the_whole_key(tmp_path, results, outcome):
    from course_utils.grading.copies import submission_key

    folder = tmp_path / "submitted" / "ann" / "lab"
    folder.mkdir(parents=True)
    (folder / "lab.ipynb").write_text("{}")

    def key(context: str) -> str:
        return submission_key(folder, context, with_timestamp=False)

    results.put(key("config\0epochs=2 seed=2024 threads=1"), outcome)
    assert results.get(key("config\0epochs=2 seed=2024 threads=1")) == outcome
    assert results.get(key("config\0epochs=3 seed=2024 threads=1")) is None
    assert results.get(key("config\0epochs=2 seed=7 threads=1")) is None
    (folder / "lab.ipynb").rename(folder / "other.ipynb")  # the same bytes, renamed
    assert results.get(key("config\0epochs=2 seed=2024 threads=1")) is None
