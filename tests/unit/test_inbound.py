"""`inbound`: submissions in nbgrader's exchange, found when complete and read untrusted."""

from __future__ import annotations

import os
import pwd
from datetime import UTC, datetime
from pathlib import Path

import pytest

from course_utils.grading import inbound
from unit.builders import notebook_bytes

NB = notebook_bytes("x = 1")
ME = pwd.getpwuid(os.geteuid()).pw_name
STAMP = "2000-01-01 00:00:00.000000 UTC"  # what a student's timestamp.txt may claim
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes a folder's owner: root only")


def submit(
    inbound_folder: Path,
    files: dict[str, bytes],
    *,
    student: str = ME,
    assignment: str = "lab",
    secret: str | None = "s3cret",
    complete: bool = True,
) -> str:
    """A submission written as ``nbgrader submit`` writes one; its folder's name."""
    name = f"{student}+{assignment}+2026-12-04 07:26:44.540670 UTC+AbC123"
    folder = inbound_folder / name
    folder.mkdir(parents=True)
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    (folder / "timestamp.txt").write_text(STAMP)
    if secret is not None:
        (folder / "submission_secret.txt").write_text(secret + "\n")
    if complete:
        os.chmod(folder, 0o777)
    return name


def ctimes(folder: Path) -> datetime:
    """The latest change time of `folder` and everything under it."""
    every = [folder, *folder.rglob("*")]
    return datetime.fromtimestamp(max(p.lstat().st_ctime for p in every), UTC)


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("alice+lab+2026-12-04 07:26:44.540670 UTC+AbC123", ("alice", "lab")),
        ("alice+lab3_part2+2026-12-04 07:26:44.540670 UTC", ("alice", "lab3_part2")),
        ("a b+lab+t+r", ("a b", "lab")),
        ("alice+lab", None),
        ("alice+lab+t+r+extra", None),
        ("alice++t", None),
    ],
)
def test_parse_names_student_and_assignment(name, found):
    assert inbound.parse(name) == found


def test_a_submission_is_complete_only_once_its_folder_is_0777(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB}, complete=False)
    assert inbound.snapshot(tmp_path, name) is None
    os.chmod(tmp_path / name, 0o777)
    state = inbound.snapshot(tmp_path, name)
    assert state is not None
    assert [entry[0] for entry in state] == [
        ".",
        "lab.ipynb",
        "submission_secret.txt",
        "timestamp.txt",
    ]


def test_a_submission_without_its_secret_is_not_complete(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB}, secret=None)
    assert inbound.snapshot(tmp_path, name) is None


def test_no_folder_or_a_link_to_one_is_no_submission(tmp_path):
    name = submit(tmp_path / "real", {"lab.ipynb": NB})
    assert inbound.snapshot(tmp_path, "gone+lab+t") is None
    (tmp_path / name).symlink_to(tmp_path / "real" / name)
    assert inbound.snapshot(tmp_path, name) is None
    with pytest.raises(OSError):  # never read through a link
        inbound.read(tmp_path, name)


def test_the_snapshot_changes_when_a_file_does(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB})
    before = inbound.snapshot(tmp_path, name)
    assert inbound.snapshot(tmp_path, name) == before
    (tmp_path / name / "lab.ipynb").write_bytes(NB + b" ")
    assert inbound.snapshot(tmp_path, name) != before


def test_a_complete_submission_is_read_into_memory(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB, "extra.ipynb": NB, "data/notes.txt": b"hi"})
    handed = inbound.read(tmp_path, name)
    assert handed.refused == ""
    assert (handed.name, handed.student, handed.assignment, handed.owner) == (name, ME, "lab", ME)
    assert handed.files == {"lab.ipynb": NB, "extra.ipynb": NB, "data/notes.txt": b"hi"}
    assert handed.notebooks == ["extra", "lab"]


def test_the_secret_is_read_and_left_out_of_the_files(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB}, secret="  AbCdEf  ")
    handed = inbound.read(tmp_path, name)
    assert handed.secret == "AbCdEf"
    assert "submission_secret.txt" not in handed.files and "timestamp.txt" not in handed.files


def test_the_time_received_is_the_latest_change_time_never_timestamp_txt(tmp_path):
    start = datetime.now(UTC)
    name = submit(tmp_path, {"lab.ipynb": NB, "data/notes.txt": b"hi"})
    handed = inbound.read(tmp_path, name)
    assert handed.received == ctimes(tmp_path / name)
    assert handed.received.tzinfo is not None
    assert handed.received.year == start.year != 2000
    assert (start - handed.received).total_seconds() < 1


@as_root
def test_the_owner_of_the_folder_hands_it_in_whatever_name_it_claims(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB}, student="alice")
    os.chown(tmp_path / name, 65534, 65534)
    owner = pwd.getpwuid(65534).pw_name
    handed = inbound.read(tmp_path, name)
    assert handed.owner == handed.student == owner  # kept as the owner's, not alice's
    assert f"it names the student 'alice', but {owner!r} handed it in" in handed.refused
    assert handed.files == {"lab.ipynb": NB} and handed.secret == "s3cret"


@as_root
def test_a_student_handing_in_under_their_own_name_is_not_refused(tmp_path):
    owner = pwd.getpwuid(65534).pw_name
    name = submit(tmp_path, {"lab.ipynb": NB}, student=owner)
    os.chown(tmp_path / name, 65534, 65534)
    handed = inbound.read(tmp_path, name)
    assert (handed.owner, handed.student, handed.refused) == (owner, owner, "")


def test_a_folder_not_named_as_nbgrader_names_one_is_refused(tmp_path):
    (tmp_path / "junk").mkdir(mode=0o777)
    (tmp_path / "junk" / "lab.ipynb").write_bytes(NB)
    handed = inbound.read(tmp_path, "junk")
    assert handed.refused == "the folder's name is not STUDENT+ASSIGNMENT+TIME"


def test_a_link_inside_is_refused_unfollowed(tmp_path):
    (tmp_path / "secret.txt").write_text("not the student's")
    name = submit(tmp_path / "inbound", {"lab.ipynb": NB})
    (tmp_path / "inbound" / name / "zz.ipynb").symlink_to(tmp_path / "secret.txt")
    handed = inbound.read(tmp_path / "inbound", name)
    assert handed.refused == "it could not be read: zz.ipynb is a link or cannot be opened"
    # nothing of it is kept, but enough to answer its student: the secret, the notebooks' names
    assert handed.files == {"lab.ipynb": b"", "zz.ipynb": b""}
    assert handed.secret == "s3cret" and handed.notebooks == ["lab", "zz"]


def test_a_link_to_a_folder_deeper_down_is_refused(tmp_path):
    name = submit(tmp_path / "inbound", {"lab.ipynb": NB, "data/a.txt": b"a"})
    (tmp_path / "inbound" / name / "data" / "up").symlink_to(tmp_path)
    handed = inbound.read(tmp_path / "inbound", name)
    assert handed.refused == "it could not be read: data/up is a link or cannot be opened"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    name = submit(tmp_path, {"lab.ipynb": NB})
    os.mkfifo(tmp_path / name / "pipe")
    handed = inbound.read(tmp_path, name)
    assert handed.refused == "it could not be read: pipe is not a plain file"


def test_folders_too_deep_are_refused(tmp_path):
    deep = "/".join("d" * (inbound.MAX_DEPTH + 1)) + "/x.txt"
    name = submit(tmp_path, {"lab.ipynb": NB, deep: b"x"})
    handed = inbound.read(tmp_path, name)
    assert handed.refused.startswith("it could not be read: ")
    assert "is not a plain file" in handed.refused


def test_too_many_files_are_refused(tmp_path):
    files = {f"f{i:03}.txt": b"" for i in range(inbound.MAX_FILES)}
    name = submit(tmp_path, {"lab.ipynb": NB, **files})
    handed = inbound.read(tmp_path, name)
    assert handed.refused == f"it could not be read: more than {inbound.MAX_FILES} files"


def test_a_submission_with_too_many_files_is_still_complete(tmp_path):
    # its secret sorts after the first MAX_FILES names: the service must still see it
    # complete, to read it and refuse it, rather than wait for it forever
    files = {f"f{i:03}.txt": b"" for i in range(inbound.MAX_FILES)}
    name = submit(tmp_path, {"lab.ipynb": NB, **files})
    state = inbound.snapshot(tmp_path, name)
    assert state is not None and len(state) <= inbound.MAX_FILES + 1


def test_a_submission_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    # the secret and timestamp.txt count too
    monkeypatch.setattr(inbound, "MAX_BYTES", len(NB) + len("s3cret\n") + len(STAMP) + 10)
    name = submit(tmp_path, {"lab.ipynb": NB, "big.bin": bytes(11)})
    handed = inbound.read(tmp_path, name)
    assert handed.refused.startswith("it could not be read: more than ")
    assert handed.files == {"lab.ipynb": b""} and handed.secret == "s3cret"
    name = submit(tmp_path, {"lab.ipynb": NB, "small.bin": bytes(10)}, assignment="lab2")
    assert inbound.read(tmp_path, name).refused == ""


@pytest.mark.parametrize(
    "files", [{"notes.txt": b"hi"}, {"sub/lab.ipynb": NB}, {"lab.ipynb.txt": NB}, {}]
)
def test_a_submission_without_a_top_level_notebook_is_refused(tmp_path, files):
    name = submit(tmp_path, files)
    assert inbound.read(tmp_path, name).refused == "it holds no notebook"


def test_an_unknown_owner_is_named_by_uid():
    assert inbound._owner(4_000_000_000) == "uid 4000000000"


@pytest.mark.parametrize("part", [".", ".."])
def test_a_name_whose_parts_would_leave_a_folder_is_not_a_submission(part):
    assert inbound.parse(f"alice+{part}+2026-12-04 07:26:44.540670 UTC+AbC") is None
    assert inbound.parse(f"{part}+lab+2026-12-04 07:26:44.540670 UTC+AbC") is None
    assert inbound.parse("alice+lab+2026-12-04 07:26:44.540670 UTC+AbC") == ("alice", "lab")
