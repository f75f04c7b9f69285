"""The settings and the course folder's layout: one definition each, that every reader uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from course_utils import layout, settings
from course_utils.grading.cli import parser
from course_utils.grading.jobs import Limits, parse_size
from support import ROOT

PACKAGE = ROOT / "course_utils"


def test_the_settings_page_is_written_from_the_definitions():
    page = ROOT / "docs" / "settings.md"
    assert page.read_text() == settings.markdown(), (
        "docs/settings.md is out of date: python -m course_utils.settings > docs/settings.md"
    )
    for setting in settings.SETTINGS.values():
        assert f"| `{setting.name}` | {setting.default_text()} |" in page.read_text()


def test_every_flag_comes_from_its_definition_with_its_default_in_the_help():
    from course_utils.grading.service_command import parser as service_parser

    p = parser()
    actions = {a.option_strings[0]: a for a in p._actions if a.option_strings}
    actions |= {a.option_strings[0]: a for a in service_parser()._actions if a.option_strings}
    flagged = [s for s in settings.SETTINGS.values() if s.flag]
    assert flagged, "the grader has flags"
    for setting in flagged:
        action = actions[setting.flag]
        assert action.dest == setting.name
        assert action.default is None, "unset flags leave the definition's default"
        assert f"(default: {setting.default_text()})" in action.help.replace("%%", "%")
    args = p.parse_args(["lab"])
    assert all(getattr(args, s.name) is None for s in flagged if s.flag in p._option_string_actions)


def test_the_limits_take_their_defaults_from_the_definitions():
    limits = Limits()
    for name in ("submission_timeout", "cell_timeout", "memory", "judge_memory"):
        assert getattr(limits, name) == settings.SETTINGS[name].default
    for name in ("request_timeout", "threads", "seed", "max_output_bytes", "disk"):
        assert getattr(limits, name) == settings.SETTINGS[name].default
    assert limits.grader_memory == settings.GRADER_MEMORY.default
    assert parse_size(settings.MEMORY.default_text()) == settings.MEMORY.default


def test_nbgraders_traits_and_the_course_config_use_the_definitions():
    from course_utils.grading.late import PercentPerDay
    from course_utils.grading.preprocessors import GuardedExecute, JudgedExecute

    assert GuardedExecute().submission_timeout == settings.SUBMISSION_TIMEOUT.default
    assert GuardedExecute().max_output_bytes == settings.MAX_OUTPUT.default
    assert GuardedExecute().seed == settings.SEED.default
    assert JudgedExecute().request_timeout == settings.REQUEST_TIMEOUT.default
    assert PercentPerDay().percent_per_day == settings.PERCENT_PER_DAY.default
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT))
    loader.load_config()
    config: Config = loader.config
    for setting in settings.SETTINGS.values():
        if setting.config and "[" not in setting.config:  # per assignment: test_attempts.py
            cls, trait = setting.config.split(".")
            assert config[cls][trait] == setting.default, setting.config


def test_the_pyproject_table_holds_every_pyproject_setting():
    import tomllib

    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["course-kit"]
    keys = {s.pyproject for s in settings.SETTINGS.values() if s.pyproject}
    assert keys == set(table), "pyproject.toml's [tool.course-kit] and the definitions differ"


#: numbers that equal a default by coincidence, and mean something else
COINCIDENCES = {("isolation.py", "FIRST_UID = 200_000")}


def _package_sources() -> dict[Path, str]:
    return {p: p.read_text() for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize(
    "setting",
    [s for s in settings.SETTINGS.values() if isinstance(s.default, int) and s.default >= 600],
    ids=lambda s: s.name,
)
def test_a_default_is_written_once(setting):
    """No other module repeats a number the definitions hold (``3600``, ``1 << 30``...)."""
    spellings = {str(setting.default), f"{setting.default:_}"}
    for shift in range(10, 41, 10):
        if setting.default % (1 << shift) == 0:
            count = setting.default >> shift
            spellings |= {f"{count} << {shift}", f"{count} * 2**{shift}", f"{count}*2**{shift}"}
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, spellings)) + r")(?![\w.])")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path, text in _package_sources().items()
        if path.name != "settings.py"
        for n, line in enumerate(text.splitlines(), 1)
        if pattern.search(line.split("#")[0])
        and not any(path.name == f and line.startswith(text) for f, text in COINCIDENCES)
    ]
    assert found == [], f"{setting.name}'s default is repeated; use course_utils.settings"


@pytest.mark.parametrize(
    "name",
    [layout.CONFIG, layout.GRADEBOOK, layout.KIT, *layout.INSTRUCTOR_ONLY_FOLDERS, layout.RELEASE],
)
def test_a_folder_name_is_spelled_once(name):
    """Paths of the course folder are built from `course_utils.layout`, nowhere else."""
    quoted = re.escape(f'"{name}"')
    path_join = re.compile(rf"/\s*{quoted}|{quoted}\s*/|Path\({quoted}\)|\"{re.escape(name)}/")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path, text in _package_sources().items()
        if path.name != "layout.py"
        for n, line in enumerate(text.splitlines(), 1)
        if path_join.search(line)
    ]
    assert found == []


def test_the_course_folder_names_each_path(tmp_path):
    course = layout.CourseFolder(tmp_path)
    assert course.config == tmp_path / "nbgrader_config.py"
    assert course.gradebook == tmp_path / "gradebook.db"
    assert course.submitted("ann", "lab") == tmp_path / "submitted" / "ann" / "lab"
    assert course.autograded("ann") == tmp_path / "autograded" / "ann"
    assert course.feedback() == tmp_path / "feedback"
    assert course.source("lab") == tmp_path / "source" / "lab"
    assert course.release() == tmp_path / "release"
    assert course.grades_csv("lab") == tmp_path / "grades" / "lab.csv"
    assert course.grades_csv("lab", "changes") == tmp_path / "grades" / "lab-changes.csv"
    assert course.log("lab", "ann") == tmp_path / "grades" / "logs" / "lab" / "ann.log"
    assert course.results("lab") == tmp_path / ".course-kit" / "results" / "lab"
    assert course.lms_record("lab") == tmp_path / ".course-kit" / "lms" / "lab.json"
    assert course.collected("lab", "ann") == tmp_path / ".course-kit" / "collected" / "lab" / "ann"
    assert set(layout.OUTPUTS) >= {layout.GRADEBOOK, layout.AUTOGRADED, layout.KIT}


def test_the_definitions_import_only_the_standard_library():
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules)\n"
        "import course_utils.settings, course_utils.layout\n"
        "print(sorted(m for m in set(sys.modules) - before"
        " if m.split('.')[0] not in sys.stdlib_module_names | {'course_utils'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
