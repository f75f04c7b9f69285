"""`collect`: an LMS download read in memory, with hostile entries refused one by one."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import UTC, datetime

import pytest

from course_utils.grading import collect
from course_utils.grading.collect import Budget, Collection, File, Row
from course_utils.grading.lms import Named
from course_utils.grading.worksheet import Roster
from unit.builders import notebook_bytes, zip_bytes

NB = notebook_bytes("x = 1")
WHEN = datetime(2026, 11, 1, 11, 0, tzinfo=UTC)


def read(data: bytes, total: int = collect.MAX_TOTAL) -> dict[str, File]:
    return {f.path: f for f in collect.read_download(io.BytesIO(data), Budget(total))}


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../a_1_2_lab.ipynb", "climbs out"),
        ("x/../../a_1_2_lab.ipynb", "climbs out"),
        ("x\\..\\a_1_2_lab.ipynb", "climbs out"),
        ("/etc/a_1_2_lab.ipynb", "an absolute path"),
        ("\\\\server\\a_1_2_lab.ipynb", "an absolute path"),
        ("C:/a_1_2_lab.ipynb", "an absolute path"),
        ("a_1_2_..lab.ipynb", ""),  # dots in a name climb nowhere
    ],
)
def test_names_that_leave_the_folder_are_refused_unread(name, problem):
    found = read(zip_bytes({name: NB}))[name]
    if problem:
        assert problem in found.problem and found.data is None
    else:
        assert found.problem == "" and found.data == NB


def test_links_and_special_files_are_refused_unread():
    found = read(zip_bytes({"a_1_2_ok.ipynb": NB}, links=("a_1_3_l.ipynb",), fifos=("a_1_4_f",)))
    assert (found["a_1_3_l.ipynb"].problem, found["a_1_3_l.ipynb"].data) == ("a link", None)
    assert (found["a_1_4_f"].problem, found["a_1_4_f"].data) == ("a special file", None)
    assert found["a_1_2_ok.ipynb"].data == NB
    assert found["a_1_2_ok.ipynb"].when == datetime(2026, 11, 1, 11, 0, tzinfo=UTC)


def test_a_file_that_unpacks_past_the_limit_stops_at_it(monkeypatch):
    monkeypatch.setattr(collect, "MAX_NOTEBOOK", 1000)
    found = read(zip_bytes({"bomb.ipynb": bytes(10_000), "ok.ipynb": NB}))
    assert "over the size limit" in found["bomb.ipynb"].problem
    assert found["bomb.ipynb"].data is None and found["ok.ipynb"].data == NB


def test_the_whole_download_has_one_budget():
    data = zip_bytes({"a.ipynb": bytes(600), "b.ipynb": bytes(600)})
    found = read(data, total=1000)
    assert found["a.ipynb"].data == bytes(600)
    assert "more than the collector reads in all" in found["b.ipynb"].problem
    budget = Budget(10)
    with zipfile.ZipFile(io.BytesIO(zip_bytes({"a": b"12345"}))) as z:
        assert budget.read(z, z.getinfo("a"), 100) == b"12345"
        assert budget.left == 5


def lying(declared: int) -> bytes:
    """A zip whose one entry declares `declared` bytes unpacked, and holds 20."""
    data = bytearray(zip_bytes({"a_1_2_lab.ipynb": b"{}" * 10}))
    for header, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(header)
        data[start + at : start + at + 4] = declared.to_bytes(4, "little")
    return bytes(data)


def test_a_declared_size_is_never_trusted():
    huge = read(lying(0xFFFFFFFF))["a_1_2_lab.ipynb"]
    assert huge.data == b"{}" * 10  # no more than is there is read, nor reserved
    small = read(lying(3))["a_1_2_lab.ipynb"]
    assert small.data is None and small.problem  # a short read fails its check


def test_a_zip_in_the_download_is_opened_one_level_only():
    innermost = zip_bytes({"deep.ipynb": NB})
    inner = zip_bytes({"lab.ipynb": NB, "nested.zip": innermost, "../up.ipynb": NB})
    found = read(zip_bytes({"kim_5_6_work.zip": inner}))
    assert set(found) == {
        "kim_5_6_work.zip/lab.ipynb",
        "kim_5_6_work.zip/nested.zip",
        "kim_5_6_work.zip/../up.ipynb",
    }
    assert {f.outer for f in found.values()} == {"kim_5_6_work.zip"}
    assert found["kim_5_6_work.zip/nested.zip"].data == innermost  # a file, not opened
    assert "climbs out" in found["kim_5_6_work.zip/../up.ipynb"].problem


def test_what_is_no_zip_is_one_problem(tmp_path):
    (tmp_path / "d.zip").write_bytes(b"PK but no zip")
    files = collect.read_download(tmp_path / "d.zip", Budget())
    assert [f.path for f in files] == [str(tmp_path / "d.zip")]
    assert files[0].problem.startswith("not a zip file") and files[0].data is None
    found = read(zip_bytes({"a_1_2_x.zip": b"not a zip"}))
    assert list(found) == ["a_1_2_x.zip"] and found["a_1_2_x.zip"].problem.startswith("not a zip")


def test_too_many_entries_are_refused_whole(monkeypatch):
    monkeypatch.setattr(collect, "MAX_FILES", 2)
    files = collect.read_download(io.BytesIO(zip_bytes({"a": b"", "b": b"", "c": b""})), Budget())
    assert len(files) == 1 and files[0].problem == "more than 2 files"


def named(file: str, attachment: str = "", when: datetime = WHEN, data: bytes = NB) -> File:
    return File(
        f"x_1_{attachment}_{file}", data, when=when, named=Named("1", file, attachment=attachment)
    )


def test_choose_the_notebook_named_after_the_assignment_else_the_only_one():
    right, wrong = named("Copy of lab (1).ipynb", "7"), named("scratch.ipynb", "8")
    assert collect.choose("lab", set(), [wrong, right]) == (
        right,
        "the latest of its notebooks, handed in as 'Copy of lab (1).ipynb'",
    )
    assert collect.choose("lab", set(), [wrong]) == (
        wrong,
        "its only notebook, handed in as 'scratch.ipynb'",
    )
    assert collect.choose("lab", {"quiz"}, [named("quiz.ipynb")]) == (None, "")
    chosen, why = collect.choose("lab", set(), [wrong, named("other.ipynb", "9")])
    assert chosen is None and why == "several notebooks, none named after the assignment"
    later = named("lab.ipynb", "12")
    assert collect.choose("lab", set(), [named("lab.ipynb", "11"), later])[0] is later
    assert collect.choose("lab", set(), [named("notes.txt")]) == (None, "")


def test_the_timestamp_is_after_the_due_date_when_marked_late():
    due = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    on_time = named("lab.ipynb")
    assert collect.timestamp(on_time, None, due) == WHEN
    late = File("p", NB, when=WHEN, named=Named("1", "lab.ipynb", late=True))
    assert collect.timestamp(late, None, due) == datetime(2026, 11, 1, 12, 0, 1, tzinfo=UTC)
    said = datetime(2026, 11, 3, tzinfo=UTC)  # the worksheet's time wins over the zip's
    assert collect.timestamp(late, said, due) == said
    assert collect.timestamp(late, None, None) == WHEN


def test_write_places_the_notebook_keeps_the_old_one_and_refuses_links(tmp_path):
    course = tmp_path / "course"
    assert collect.write(course, "lab", "ann", NB, WHEN) == "collected"
    folder = course / "submitted" / "ann" / "lab"
    assert (folder / "lab.ipynb").read_bytes() == NB
    assert (folder / "timestamp.txt").read_text() == "2026-11-01 11:00:00.000000 UTC"
    assert collect.write(course, "lab", "ann", NB, WHEN) == "unchanged"
    outcome = collect.write(course, "lab", "ann", notebook_bytes("x = 2"), WHEN)
    assert outcome.startswith("replaced (the earlier copy is in .course-kit/collected/lab/ann/")
    aside = list((course / ".course-kit" / "collected" / "lab" / "ann").glob("*/lab.ipynb"))
    assert [p.read_bytes() for p in aside] == [NB]
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", course / "submitted" / "bob")
    with pytest.raises(ValueError, match="is a link"):
        collect.write(course, "lab", "bob", NB, WHEN)
    assert list((tmp_path / "elsewhere").iterdir()) == []
    os.symlink(tmp_path / "elsewhere" / "not-yet", course / "submitted" / "cid")  # dangling
    with pytest.raises((OSError, ValueError)):
        collect.write(course, "lab", "cid", NB, WHEN)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_small_canvas_download_end_to_end(tmp_path):
    course = tmp_path / "course"
    for name in ("lab", "quiz"):
        (course / "source" / name).mkdir(parents=True)
    download = tmp_path / "download.zip"
    download.write_bytes(
        zip_bytes(
            {
                "able_101_1_lab.ipynb": NB,
                "able_101_2_quiz.ipynb": NB,
                "bee_202_3_lab.ipynb": b"{broken",
                "ghost_909_4_lab.ipynb": NB,
                "../able_101_5_lab.ipynb": NB,
                "readme.txt": b"hi",
            },
            links=("able_101_6_lab.ipynb",),
        )
    )
    roster = Roster(ids={"101": ["ann"], "202": ["bob"], "303": ["cid"]})
    done = collect.collect(course, "lab", download, "canvas", roster)
    rows = {(r.path, r.student, r.outcome, r.detail.split(" (")[0]) for r in done.rows}
    assert rows == {
        ("able_101_1_lab.ipynb", "ann", "collected", "the latest of its notebooks"),
        ("able_101_2_quiz.ipynb", "ann", "skipped", "another assignment's notebook"),
        ("bee_202_3_lab.ipynb", "bob", "skipped", "not a notebook"),
        ("ghost_909_4_lab.ipynb", "909", "skipped", "unknown student: not in the roster"),
        ("../able_101_5_lab.ipynb", "ann", "skipped", "a path that climbs out of its folder"),
        ("readme.txt", "", "skipped", "a name Canvas does not give its files"),
        ("able_101_6_lab.ipynb", "ann", "skipped", "a link"),
        ("", "cid", "nothing handed in", ""),
    }
    assert done.written == {"ann": "able_101_1_lab.ipynb"}
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["ann"]
    assert not (tmp_path / "able_101_5_lab.ipynb").exists()
    path = collect.report(course, "lab", done)
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["file", "student_id", "outcome", "detail"] and len(table) == 9


def test_the_table_is_aligned_and_cut_to_forty_characters():
    done = Collection(rows=[Row("a" * 50, "ann", "collected", "why"), Row("b", "bo", "skipped")])
    lines = collect.table(done).splitlines()
    assert lines[0].split() == ["student", "outcome", "file", "detail"]
    assert lines[1] == "ann      collected  " + "a" * 40 + "  why"
    assert lines[2].rstrip() == "bo       skipped    b"
