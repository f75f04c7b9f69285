"""`lms_commands`: ``collect`` and ``handback`` say what is missing, and do what they say."""

from __future__ import annotations

import json
import zipfile

import pytest

from course_utils.grading import lms_commands
from unit.builders import copy_file, empty_gradebook, gradebook, notebook_bytes, zip_bytes


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("lms") / "gradebook.db")
    with gradebook(db) as gb:
        gb.add_assignment("lab")
        gb.add_student("ann", lms_user_id="101", email="ann@uni.example")
    return db


@pytest.fixture
def course(tmp_path, base):
    copy_file(base, tmp_path / "course" / "gradebook.db")
    (tmp_path / "course" / "source" / "lab").mkdir(parents=True)
    return tmp_path / "course"


def run(main, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_collect_says_what_is_missing(tmp_path, course, capsys):
    download = tmp_path / "d.zip"
    download.write_bytes(zip_bytes({}))
    collect = lms_commands.collect_main
    code, _, err = run(
        collect, capsys, "lab", str(download), "--lms", "canvas", "--course", str(tmp_path)
    )
    assert code == 2 and "no gradebook in" in err
    code, _, err = run(
        collect, capsys, "exam", str(download), "--lms", "canvas", "--course", str(course)
    )
    assert code == 2 and "no assignment exam" in err
    code, _, err = run(
        collect, capsys, "lab", str(tmp_path), "--lms", "canvas", "--course", str(course)
    )
    assert code == 2 and "is not a file" in err
    code, _, err = run(
        collect, capsys, "lab", str(download), "--lms", "moodle", "--course", str(course)
    )
    assert code == 2 and "--worksheet FILE.csv" in err
    bad = tmp_path / "sheet.csv"
    bad.write_text("Identifier,Name\n")
    code, _, err = run(
        collect,
        capsys,
        "lab",
        str(download),
        "--lms",
        "moodle",
        "--worksheet",
        str(bad),
        "--course",
        str(course),
    )
    assert code == 2 and "no e-mail column" in err
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("argv", [["lab", "d.zip"], ["lab", "d.zip", "--lms", "blackboard"], []])
def test_collect_refuses_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        lms_commands.collect_main(argv)
    assert stopped.value.code == 2
    assert "usage: python -m course_utils.grade collect" in capsys.readouterr().err


def test_collect_then_hand_back(tmp_path, course, capsys):
    download = tmp_path / "d.zip"
    download.write_bytes(zip_bytes({"able_101_9_lab.ipynb": notebook_bytes("x = 1")}))
    code, out, _ = run(
        lms_commands.collect_main,
        capsys,
        "lab",
        str(download),
        "--lms",
        "canvas",
        "--course",
        str(course),
    )
    assert code == 0
    assert "1 notebook(s) in submitted/" in out and "ann" in out
    assert (course / "submitted" / "ann" / "lab" / "lab.ipynb").is_file()
    assert (course / "grades" / "lab-collected.csv").is_file()
    record = json.loads((course / ".course-kit" / "lms" / "lab.json").read_text())
    assert record["students"]["ann"]["attachment"] == "9"

    (course / "feedback" / "ann" / "lab").mkdir(parents=True)
    (course / "feedback" / "ann" / "lab" / "lab.html").write_text("<p>ok</p>")
    code, out, _ = run(lms_commands.handback_main, capsys, "lab", "--course", str(course))
    assert code == 0 and "ann: returned (lab.html)" in out
    with zipfile.ZipFile(course / "grades" / "lab-feedback.zip") as z:
        assert z.namelist() == ["able_101_9_lab.html"]
    to = tmp_path / "elsewhere.zip"
    code, out, _ = run(
        lms_commands.handback_main, capsys, "lab", "--course", str(course), "--to", str(to)
    )
    assert code == 0 and to.is_file() and str(to) in out


def test_hand_back_says_what_is_missing(tmp_path, course, capsys):
    code, _, err = run(lms_commands.handback_main, capsys, "lab", "--course", str(tmp_path))
    assert code == 2 and "no gradebook" in err
    code, _, err = run(lms_commands.handback_main, capsys, "lab", "--course", str(course))
    assert code == 2 and "no LMS collection for lab" in err
    assert not (course / "grades").exists()
