"""One submission's grading: the scratch course, nbgrader's settings and environment, failures."""

from __future__ import annotations

import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from course_utils.grading import isolation, worker
from course_utils.grading.archive import tar_folder
from course_utils.grading.jobs import Job, Limits
from course_utils.grading.sandbox import Settings
from course_utils.layout import CourseFolder
from course_utils.settings import EPOCHS


@pytest.fixture
def staged(tmp_path, monkeypatch):
    """A stand-in for the staged data set (no copy of the real one is made)."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(isolation, "_STAGED_DATA", folder)
    return folder


def _job(tmp_path: Path, **limits) -> Job:
    submission, source = tmp_path / "sub", tmp_path / "src"
    (submission / "pkg").mkdir(parents=True)
    source.mkdir()
    (submission / "lab.ipynb").write_text("{}")
    (submission / "pkg" / "helper.py").write_text("x = 1\n")
    (source / "data.csv").write_text("a,b\n")
    return Job(
        assignment="lab",
        student="ada",
        config="c = get_config()  # noqa\nc.Exchange.root = '/nowhere'\n",
        gradebook=b"",
        submission=tar_folder(submission),
        source_files=tar_folder(source),
        digest="d1",
        limits=Limits(**limits),
        feedback=True,
        cell_order={"lab": ["a", "b"]},
    )


def _config(text: str) -> Config:
    c = Config()
    exec(text, {"c": c, "get_config": lambda: c})
    return c


def test_nbgraders_settings_put_the_kits_preprocessors_in_nbgraders_places(tmp_path):
    limits = Limits(cell_timeout=77, submission_timeout=99, max_output_bytes=1234, seed=5)
    text = worker.kit_config(
        tmp_path / "course", limits, root=tmp_path, order={"lab": ["x"]}, judge={"K": "V"}
    )
    c = _config(text)
    assert c.CourseDirectory.root == str(tmp_path / "course")
    autograde = c.Autograde.autograde_preprocessors
    judged = "course_utils.grading.preprocessors.judged_execute.JudgedExecute"
    assert judged in autograde
    assert "nbgrader.preprocessors.execute.Execute" not in autograde
    sanitize = c.Autograde.sanitize_preprocessors
    restore = "course_utils.grading.preprocessors.restore_tests.RestoreTests"
    overwrite = next(name for name in sanitize if name.endswith("OverwriteCells"))
    assert sanitize.index(restore) == sanitize.index(overwrite) - 1
    assert c.OverwriteCells.add_missing_cells is False
    hide = "course_utils.grading.preprocessors.hide_hidden_tests.HideHiddenTests"
    assert c.GenerateFeedback.preprocessors[0] == hide
    assert c.GenerateFeedback.preprocessors.count(hide) == 1
    assert c.RestoreTests.order == {"lab": ["x"]}
    assert c.JudgedExecute.judge_settings == {"K": "V"}
    assert c.JudgedExecute.judge_folder.startswith(str(tmp_path))
    assert c.JudgedExecute.kernels.startswith(str(tmp_path))
    assert c.JudgedExecute.kernels != c.JudgedExecute.judge_folder
    assert c.JudgedExecute.request_timeout == limits.request_timeout
    assert c.GuardedExecute.timeout == 77
    assert c.GuardedExecute.submission_timeout == 99
    assert c.GuardedExecute.max_output_bytes == 1234
    assert c.GuardedExecute.seed == 5
    assert c.GuardedExecute.memory_note == limits.memory_text


def test_without_a_judge_the_judge_folder_is_empty(tmp_path):
    c = _config(worker.kit_config(tmp_path, Limits(judge=False), root=tmp_path, order={}))
    assert c.JudgedExecute.judge_folder == ""
    assert c.JudgedExecute.judge_settings == {}


def test_dotted_names_are_import_paths():
    assert worker.dotted(Path) == "pathlib.Path"
    assert worker.dotted(Limits) == "course_utils.grading.jobs.Limits"


def test_the_tail_of_a_log(tmp_path):
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert worker.tail(log, 3) == "line 97\nline 98\nline 99"
    assert worker.tail(tmp_path / "missing") == ""
    log.write_bytes(b"bad \xff byte\n")
    assert "bad" in worker.tail(log)


def test_a_kernels_cpu_time_is_twice_the_notebooks_on_all_its_threads():
    assert worker._cpu_seconds(Limits(submission_timeout=100, threads=3)) == 600
    assert worker._cpu_seconds(Limits(submission_timeout=100, threads=0)) == 200


def test_the_scratch_course_holds_the_config_gradebook_submission_and_files(tmp_path):
    job = _job(tmp_path)
    root = tmp_path / "scratch"
    root.mkdir()
    course = worker._scratch_course(root, job, {Settings.MEMORY: "1"})
    paths = CourseFolder(course)
    assert (paths.submitted("ada", "lab") / "lab.ipynb").read_text() == "{}"
    assert (paths.submitted("ada", "lab") / "pkg" / "helper.py").read_text() == "x = 1\n"
    assert (paths.source("lab") / "data.csv").read_text() == "a,b\n"
    assert paths.gradebook.read_bytes() == b""
    config = paths.config.read_text()
    assert config.startswith(job.config)
    assert _config(config).Exchange.root == "/nowhere"
    assert _config(config).JudgedExecute.judge_settings == {Settings.MEMORY: "1"}
    assert paths.autograded("ada").is_dir()
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(root) == 0o711
    for private in (course, paths.autograded(), paths.submitted(), paths.source()):
        assert mode(private) == 0o700, private
    assert mode(paths.config) == mode(paths.gradebook) == 0o600
    folders = {p.name for p in root.iterdir()} - {"course"}
    assert len(folders) == 2  # the kernels' and the judges' folders
    assert all(mode(root / name) == 0o711 for name in folders)


def test_nbgraders_environment(tmp_path, staged, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv(EPOCHS.env, "99")
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    limits = Limits(threads=2, seed=11, memory=3 * 2**30, isolate=False)
    env = worker._environment(tmp_path, limits, None, [], None)
    assert "NBGRADER_EXECUTION" not in env
    assert EPOCHS.env not in env  # the notebook's own length
    assert env["PYTHONHASHSEED"] == "11"
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "2"
    assert env["NUMPY_MADVISE_HUGEPAGE"] == worker.HUGE_PAGES == "0"
    assert env[Settings.MEMORY] == str(3 * 2**30)
    assert env[Settings.DATA] == str(staged)
    assert env[Settings.ISOLATE] == ""
    assert Settings.UID not in env
    assert env[Settings.CPU] == str(worker._cpu_seconds(limits))
    spec = Path(env["JUPYTER_PATH"]) / "kernels" / "python3" / "kernel.json"
    assert "course_utils.grading.sandbox" in spec.read_text()
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    assert runtime.is_dir() and stat.S_IMODE(runtime.stat().st_mode) == 0o700
    (tmp_path / "other").mkdir()
    again = worker._environment(tmp_path / "other", limits, 4242, ["/g"], 2)
    assert again[EPOCHS.env] == "2"
    assert again[Settings.UID] == "4242" and again[Settings.CGROUPS] == "/g"
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # the instructor's own choice
    (tmp_path / "third").mkdir()
    assert (
        worker._environment(tmp_path / "third", limits, None, [], None)["NUMPY_MADVISE_HUGEPAGE"]
        == "1"
    )


def test_a_job_that_cannot_be_unpacked_fails_and_leaves_no_scratch_folder(
    tmp_path, staged, monkeypatch
):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    job = _job(tmp_path, isolate=False)
    job.submission = b"not a tar archive"
    with pytest.raises(tarfile.ReadError):
        worker.grade_submission(job)
    assert list(scratch.iterdir()) == []  # the scratch folder is removed all the same
