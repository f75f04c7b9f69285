"""`copies`: a submission's key is equal only for submissions nbgrader would grade alike."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from course_utils.grading import copies
from course_utils.grading.jobs import Outcome
from unit.builders import add_lab, empty_gradebook, notebook_bytes

NB = notebook_bytes("x = 1", "print(x)")


def submission(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def key(folder: Path, context: str = "ctx", with_timestamp: bool = False) -> str:
    return copies.submission_key(folder, context, with_timestamp=with_timestamp)


def test_the_same_files_in_two_students_folders_have_one_key(tmp_path):
    a = submission(tmp_path / "a" / "lab", {"lab.ipynb": NB, "data/x.csv": b"1,2"})
    b = submission(tmp_path / "b" / "lab", {"data/x.csv": b"1,2", "lab.ipynb": NB})
    assert key(a) == key(b)
    assert len(key(a)) == 64


@pytest.mark.parametrize(
    "other",
    [
        {"lab.ipynb": NB, "y.csv": b"1,2"},  # the same bytes under another name
        {"lab.ipynb": NB, "data/sub/x.csv": b"1,2"},  # moved to another folder
        {"lab.ipynb": NB, "x.csv": b"1,2"},  # moved up out of its folder
        {"lab.ipynb": NB, "data/x.csv": b"1,3"},  # other bytes
        {"lab.ipynb": NB},  # a file less
        {"lab.ipynb": NB, "data/x.csv": b"1,2", "extra": b""},  # an empty file more
        {"lab.ipynb": notebook_bytes("x = 2", "print(x)"), "data/x.csv": b"1,2"},
        {"other.ipynb": NB, "data/x.csv": b"1,2"},  # the notebook renamed
    ],
)
def test_different_submissions_have_different_keys(tmp_path, other):
    one = submission(tmp_path / "one", {"lab.ipynb": NB, "data/x.csv": b"1,2"})
    two = submission(tmp_path / "two", other)
    assert key(one) != key(two)


def test_file_bytes_cannot_forge_the_boundary_between_files(tmp_path):
    # One file whose bytes read like the end of a file, a name, and the next file's bytes,
    # against the two files they imitate: different submissions, so different keys.
    two_files = submission(tmp_path / "two", {"a": b"1", "b": b"2"})
    one_file = submission(tmp_path / "one", {"a": b"1\0b\0" + b"2"})
    assert key(two_files) != key(one_file)
    # and a file name that swallows its bytes' separator
    swallowed = submission(tmp_path / "three", {"a": b"", "b": b"\0" + b"2"})
    assert len({key(two_files), key(one_file), key(swallowed)}) == 3


def test_the_context_cannot_be_forged_by_a_file_either(tmp_path):
    empty = submission(tmp_path / "empty", {})
    one = submission(tmp_path / "one", {"a": b"1"})
    # the context of the first ends the way the second's first file begins
    assert key(empty, "ctx\0a\x001") != key(one, "ctx")


@pytest.mark.parametrize("context", ["epochs=2 seed=2024 threads=1", "epochs=1 seed=7 threads=1"])
def test_the_training_length_and_seed_are_part_of_the_key(tmp_path, context):
    folder = submission(tmp_path / "s", {"lab.ipynb": NB})
    assert key(folder, "epochs=1 seed=2024 threads=1") != key(folder, context)


def test_outputs_and_execution_counts_do_not_count_but_metadata_does(tmp_path):
    nb = json.loads(NB)
    run = json.loads(NB)
    run["cells"][1]["execution_count"] = 3
    run["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    tagged = json.loads(NB)
    tagged["cells"][0]["metadata"]["tags"] = ["raises-exception"]
    keys = [
        key(submission(tmp_path / name, {"lab.ipynb": json.dumps(n).encode()}))
        for name, n in (("plain", nb), ("run", run), ("tagged", tagged))
    ]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]


def test_a_file_that_is_no_notebook_counts_by_its_bytes(tmp_path):
    a = submission(tmp_path / "a", {"lab.ipynb": b"{not json"})
    b = submission(tmp_path / "b", {"lab.ipynb": b"{not json "})
    assert key(a) != key(b)


def test_the_timestamp_counts_only_with_a_due_date(tmp_path):
    early = submission(tmp_path / "a", {"lab.ipynb": NB, "timestamp.txt": b"2026-11-01 10:00"})
    late = submission(tmp_path / "b", {"lab.ipynb": NB, "timestamp.txt": b"2026-11-03 10:00"})
    assert key(early) == key(late)
    assert key(early, with_timestamp=True) != key(late, with_timestamp=True)


def test_links_are_left_out_as_nbgrader_never_gets_them(tmp_path):
    plain = submission(tmp_path / "a", {"lab.ipynb": NB})
    linked = submission(tmp_path / "b", {"lab.ipynb": NB})
    os.symlink("/etc/hostname", linked / "host")
    assert key(plain) == key(linked)


def test_class_keys_group_copies_and_read_the_due_date(tmp_path):
    course = tmp_path / "course"
    submission(course / "source" / "lab", {"lab.ipynb": NB})
    db = empty_gradebook(course / "gradebook.db")
    add_lab(db, "lab", {"t": 1}, duedate=datetime(2026, 11, 1))
    stamp = {"timestamp.txt": b"2026-11-02 10:00:00"}
    found = {
        "ann": submission(tmp_path / "ann", {"lab.ipynb": NB, **stamp}),
        "bob": submission(tmp_path / "bob", {"lab.ipynb": NB, **stamp}),
        "cid": submission(tmp_path / "cid", {"lab.ipynb": NB, "timestamp.txt": b"2026-11-05"}),
        "dan": submission(tmp_path / "dan", {"lab.ipynb": notebook_bytes("y = 1")}),
    }
    keys = copies.class_keys(course, db, "lab", found, "config")
    assert keys["ann"] == keys["bob"] != keys["cid"] != keys["dan"]
    assert copies.group(keys) == {"ann": ["bob"], "cid": [], "dan": []}
    # the assignment's own source is part of every key
    (course / "source" / "lab" / "hidden.py").write_text("assert True")
    assert copies.class_keys(course, db, "lab", found, "config")["ann"] != keys["ann"]


def test_group_follows_the_order_given():
    assert copies.group({"b": "k", "a": "k", "c": "j"}) == {"b": ["a"], "c": []}
    assert copies.group({}) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01 10:00:00.5 UTC", "2026-11-01 10:00:00.500000"),
        ("2026-11-01T12:00:00+02:00", "2026-11-01 10:00:00.000000"),
        ("", None),
        ("not a time", None),
    ],
)
def test_timestamp_of_reads_it_as_nbgrader_stores_it(tmp_path, text, expected):
    (tmp_path / "timestamp.txt").write_text(text)
    assert copies.timestamp_of(tmp_path) == expected


def test_timestamp_of_ignores_a_missing_or_linked_file(tmp_path):
    assert copies.timestamp_of(tmp_path) is None
    (tmp_path / "real").write_text("2026-11-01 10:00:00")
    os.symlink(tmp_path / "real", tmp_path / "timestamp.txt")
    assert copies.timestamp_of(tmp_path) is None


ROWS = {
    "submitted_assignment": [{"id": "sa", "student_id": "ann", "timestamp": "t0", "x": 1}],
    "submitted_notebook": [{"id": "sn", "assignment_id": "sa"}],
    "grade": [{"id": "g1", "notebook_id": "sn"}, {"id": "g2", "notebook_id": "sn"}],
    "comment": [{"id": "c1", "notebook_id": "sn"}],
}


def test_copied_rows_get_fresh_ids_and_keep_their_links():
    rows = copies.copy_rows(ROWS, "bob", "2026-11-02 10:00:00.000000")
    sa, sn = rows["submitted_assignment"][0], rows["submitted_notebook"][0]
    assert sa["student_id"] == "bob" and sa["timestamp"] == "2026-11-02 10:00:00.000000"
    assert sa["x"] == 1
    assert sn["assignment_id"] == sa["id"]
    assert {g["notebook_id"] for g in rows["grade"] + rows["comment"]} == {sn["id"]}
    ids = [r["id"] for table in rows.values() for r in table]
    assert len(set(ids)) == len(ids) == 5
    assert not set(ids) & {"sa", "sn", "g1", "g2", "c1"}
    assert ROWS["submitted_assignment"][0]["student_id"] == "ann"  # the leader's are untouched


def test_a_copied_outcome_is_the_students_own_and_says_whose_it_is():
    leader = Outcome("ann", "d1", True, "graded", rows=ROWS, autograded=b"tar", wall=5.0, cpu=4.0)
    copy = copies.copied(leader, "bob", "d2", None)
    assert (copy.student, copy.digest, copy.copy_of) == ("bob", "d2", "ann")
    assert copy.autograded == b"tar" and (copy.wall, copy.cpu, copy.peak_rss) == (0, 0, 0)
    assert copy.rows["submitted_assignment"][0]["student_id"] == "bob"
    failed = copies.copied(Outcome("ann", "d1", False, "timeout", rows=ROWS), "bob", "d2", None)
    assert not failed.ok and failed.rows == {} and failed.message == "timeout"


def test_a_file_name_that_is_not_utf8_has_a_key_of_its_own(tmp_path):
    folder = submission(tmp_path / "s", {"lab.ipynb": NB})
    (Path(os.fsdecode(os.fsencode(folder) + b"/\xff.txt"))).write_bytes(b"x")
    other = submission(tmp_path / "t", {"lab.ipynb": NB})
    (Path(os.fsdecode(os.fsencode(other) + b"/\xfe.txt"))).write_bytes(b"x")
    assert key(folder) != key(other)
