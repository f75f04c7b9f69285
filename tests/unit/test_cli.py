"""`cli`: the grader's flags, their defaults, and the refusals that come before any grading."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.grading import cli
from course_utils.grading.jobs import Limits, parse_size

#: the flags that set a limit, and the field of `Limits` each sets
LIMIT_FLAGS = {
    "--timeout": "submission_timeout",
    "--cell-timeout": "cell_timeout",
    "--request-timeout": "request_timeout",
    "--threads": "threads",
    "--seed": "seed",
}


def actions() -> dict:
    return {flag: a for a in cli.parser()._actions for flag in a.option_strings}


def test_the_defaults_grade_everyone_with_everything_on(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    args = cli.parser().parse_args(["lab"])
    assert args.assignment == "lab"
    assert args.course == tmp_path
    assert (args.students, args.force, args.workers, args.epochs) == (None, False, None, None)
    assert (args.no_isolation, args.no_feedback, args.no_judge) == (False, False, False)
    assert (args.dask, args.csv) == (None, None)


@pytest.mark.parametrize(("flag", "field"), LIMIT_FLAGS.items())
def test_each_limit_flag_defaults_to_the_limit_and_sets_it(flag, field):
    action = actions()[flag]
    assert action.default in (None, getattr(Limits(), field))  # None: Limits' own default
    assert getattr(cli.parser().parse_args(["lab", flag, "7"]), action.dest) == 7


def test_memory_flags_take_sizes_as_people_write_them():
    memory, judge = actions()["--memory"], actions()["--judge-memory"]
    assert memory.default is None or parse_size(memory.default) == Limits().memory
    assert judge.default is None
    args = cli.parser().parse_args(["lab", "--memory", "2G", "--judge-memory", "512M"])
    assert getattr(args, memory.dest) == "2G" and getattr(args, judge.dest) == "512M"


def test_students_repeat_and_paths_are_paths():
    args = cli.parser().parse_args(
        ["lab", "--student", "ann", "--student", "bob", "--csv", "g.csv", "--course", "c"]
    )
    assert args.students == ["ann", "bob"]
    assert args.csv == Path("g.csv") and args.course == Path("c")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lab", "--epochs", "0"], "error: --epochs must be at least 1"),
        (["lab", "--threads", "0"], "error: --threads must be at least 1"),
        (["lab", "--workers", "-1"], "error: --workers must be at least 1"),
        (["lab", "--memory", "lots"], "error: --memory 'lots' is not a size"),
        (["lab", "--judge-memory", "4X"], "error: --judge-memory '4X' is not a size"),
    ],
)
def test_main_refuses_values_out_of_range_before_grading(argv, message, tmp_path, capsys):
    assert cli.main([*argv, "--course", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing graded, nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lab", "--bogus"], "unrecognized arguments: --bogus"),
        (["lab", "--epochs", "two"], "invalid int value: 'two'"),
        ([], "the following arguments are required: assignment"),
    ],
)
def test_main_refuses_unknown_or_malformed_flags(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_a_folder_that_is_no_course_is_refused(tmp_path, capsys):
    assert cli.main(["lab", "--course", str(tmp_path), "--no-isolation"]) == 2
    assert "is not a course folder: it has no nbgrader_config.py" in capsys.readouterr().err


def test_the_subcommands_are_handed_on(tmp_path, capsys):
    assert cli.main(["report", "lab", "--course", str(tmp_path)]) == 2
    assert "no gradebook.db in" in capsys.readouterr().err
    assert cli.main(["handback", "lab", "--course", str(tmp_path)]) == 2
    assert "no gradebook in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["collect", "lab"])  # its own parser: the download and --lms are required
    assert "usage: python -m course_utils.grade collect" in capsys.readouterr().err
