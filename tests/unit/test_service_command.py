"""`service_command`: the service's flags, their defaults, and the refusals before serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.grading import service_command

#: every flag whose default is the setting's own definition, left to `Limits` and the service
SETTING_DESTS = (
    "workers",
    "submission_timeout",
    "cell_timeout",
    "memory",
    "judge_memory",
    "request_timeout",
    "threads",
    "seed",
    "epochs",
    "poll",
)


@pytest.fixture(autouse=True)
def no_signal_handlers(monkeypatch):
    """`main` sets SIGTERM's handler: not in the test process."""
    monkeypatch.setattr(service_command.signal, "signal", lambda *args: None)


def test_the_defaults_are_none_so_the_definitions_decide(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    args = service_command.parser().parse_args([])
    assert {dest: getattr(args, dest) for dest in SETTING_DESTS} == dict.fromkeys(SETTING_DESTS)
    assert (args.once, args.no_isolation, args.no_judge) == (False, False, False)
    assert args.course == tmp_path


def test_the_flags_are_read_with_their_types():
    args = service_command.parser().parse_args(
        ["--poll", "0.5", "--once", "--course", "c", "--memory", "2G", "--threads", "2"]
    )
    assert (args.poll, args.once, args.course) == (0.5, True, Path("c"))
    assert (args.memory, args.threads) == ("2G", 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--poll", "0"], "error: --poll must be more than 0"),
        (["--poll", "-1"], "error: --poll must be more than 0"),
        (["--memory", "lots"], "error: --memory 'lots' is not a size"),
        (["--judge-memory", "4X"], "error: --judge-memory '4X' is not a size"),
        (["--threads", "0"], "error: --threads must be at least 1"),
        (["--workers", "0"], "error: --workers must be at least 1"),
        (["--epochs", "0"], "error: --epochs must be at least 1"),
    ],
)
def test_values_out_of_range_are_refused_before_serving(argv, message, tmp_path, capsys):
    assert service_command.main([*argv, "--course", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing read, nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--poll", "often"], "invalid float value: 'often'"),
        (["--threads", "two"], "invalid int value: 'two'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_values_of_the_wrong_type_stop_argparse(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        service_command.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "has no nbgrader_config.py"),
        ("c = get_config()\n", "sets no c.CourseDirectory.course_id"),
        (
            "c = get_config()\nc.CourseDirectory.course_id = 'x'\n"
            "c.AttemptPolicy.assignments = {'lab': {'counts': 'first'}}\n",
            "c.AttemptPolicy.assignments['lab']: counts is one of",
        ),
    ],
)
def test_a_course_that_cannot_be_served_is_refused(config, message, tmp_path, capsys):
    if config is not None:
        (tmp_path / "nbgrader_config.py").write_text(config)
    assert service_command.main(["--course", str(tmp_path), "--once"]) == 2
    assert message in capsys.readouterr().err


def test_once_serves_what_is_there_and_stops(tmp_path, capsys):
    exchange = tmp_path / "exchange"
    (exchange / "x" / "inbound").mkdir(parents=True)
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'x'\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    assert service_command.main(["--course", str(tmp_path), "--once", "--poll", "0.01"]) == 0
    assert f"serving {exchange / 'x' / 'inbound'} for {tmp_path}" in capsys.readouterr().out
    assert (tmp_path / ".course-kit" / "service.db").is_file()
