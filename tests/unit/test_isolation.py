"""Users, processes, mounts and permissions that keep student code away from the course."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course_utils.grading import isolation
from course_utils.grading.isolation import (
    FIRST_UID,
    free_uid,
    hand_back,
    kill_user,
    mount_tmpfs,
    open_path_to,
    protect_course,
    python_paths,
    sandbox_problem,
    unmount_below,
)
from course_utils.layout import FEEDBACK, GRADEBOOK, GRADES, KIT, SOURCE, SUBMITTED

IS_ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not IS_ROOT, reason="needs root")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _mounted(folder: Path) -> bool:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return str(folder.resolve()) in points


def test_a_free_uid_is_nobodys():
    uids = {free_uid() for _ in range(5)}
    for uid in uids:
        assert uid >= FIRST_UID
        with pytest.raises(KeyError):
            pwd.getpwuid(uid)
    assert os.getuid() not in uids


@as_root
def test_kill_user_kills_every_process_of_that_user_and_no_other(tmp_path):
    uid = free_uid()

    def become() -> None:
        os.setgid(uid)
        os.setuid(uid)

    sleepers = [
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"], preexec_fn=become, cwd="/"
        )
        for _ in range(2)
    ]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until both children have become the user
            if all(psutil.Process(p.pid).uids().real == uid for p in sleepers):
                break
            time.sleep(0.02)
        assert kill_user(uid) >= 2
        for sleeper in sleepers:
            assert sleeper.wait(5) == -9
        assert bystander.poll() is None
        assert kill_user(uid) == 0
    finally:
        bystander.kill()
        bystander.wait()
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def test_the_sandbox_check_is_made_once_per_kind_of_user():
    first = sandbox_problem(None)
    assert first is None or isinstance(first, str)
    assert isolation._CHECKED[True] == first
    assert sandbox_problem(None) is first


@as_root
def test_a_tmpfs_is_mounted_for_its_user_and_unmounted_below_a_folder(tmp_path):
    outer, inner = tmp_path / "k", tmp_path / "k" / "inner"
    outer.mkdir()
    if not mount_tmpfs(outer, 1 << 20, 200_555, 200_556, 0o2770):
        pytest.skip("tmpfs cannot be mounted here")
    try:
        assert _mounted(outer)
        info = outer.stat()
        assert (info.st_uid, info.st_gid) == (200_555, 200_556)
        assert _mode(outer) == 0o2770
        inner.mkdir()
        assert mount_tmpfs(inner, 1 << 20, 200_555)
        assert inner.stat().st_gid == 200_555 and _mode(inner) == 0o700
        with pytest.raises(OSError):  # its size is capped
            (outer / "big").write_bytes(b"x" * (2 << 20))
    finally:
        unmount_below(tmp_path)
    assert not _mounted(outer) and not _mounted(inner)
    assert not inner.exists()  # what was written there went with the tmpfs


def test_unmounting_below_a_folder_without_mounts_does_nothing(tmp_path):
    (tmp_path / "a").mkdir()
    unmount_below(tmp_path)
    assert (tmp_path / "a").is_dir()


def test_what_a_kernel_must_read_is_the_interpreter_its_environment_and_the_kit():
    import course_utils

    paths = python_paths()
    assert Path(sys.executable).resolve() in paths
    assert Path(sys.prefix).resolve() in paths
    assert Path(course_utils.__file__).resolve().parent in paths
    assert paths == sorted(paths)


def test_folders_above_a_path_become_traversable_not_listable(tmp_path):
    top = tmp_path / "a"
    deep = top / "b" / "c"
    deep.mkdir(parents=True)
    top.chmod(0o700)
    (top / "b").chmod(0o750)
    changed = open_path_to([deep / "python"])
    assert set(changed) >= {top, top / "b"}
    assert _mode(top) == 0o701 and _mode(top / "b") == 0o751
    assert _mode(deep) & stat.S_IXOTH
    assert open_path_to([deep / "python"]) == []


def test_a_course_with_nothing_to_keep_is_closed_entirely(tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    course.chmod(0o755)
    (course / "source").chmod(0o755)
    assert protect_course(course, [tmp_path / "elsewhere"]) == [course]
    assert _mode(course) == 0o750
    assert _mode(course / "source") == 0o755  # unreachable anyway: the course is closed


def test_links_in_the_course_are_never_changed(tmp_path):
    course = tmp_path / "course"
    (course / ".venv").mkdir(parents=True)
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    (course / "link").symlink_to(target)
    course.chmod(0o755)
    changed = protect_course(course, [course / ".venv"])
    assert course / "link" not in changed
    assert _mode(target) == 0o755
    assert _mode(course) == 0o751


def test_nothing_is_handed_back_unless_root_and_the_course_has_another_owner(tmp_path):
    assert hand_back(tmp_path / "missing") == 0
    course = tmp_path / "course"
    (course / GRADES).mkdir(parents=True)
    if IS_ROOT:
        os.chown(course, 0, 0)
    assert hand_back(course) == 0  # a course owned by root (or no root): nothing changes
    (course / GRADES / "lab.csv").write_text("")
    assert hand_back(course / GRADES / "lab.csv") == 0  # not a folder


@as_root
def test_only_the_outputs_are_handed_back_to_the_courses_owner(tmp_path):
    course = tmp_path / "course"
    for name in (f"{FEEDBACK}/ada", KIT, SOURCE, f"{SUBMITTED}/ada"):
        (course / name).mkdir(parents=True)
    (course / GRADEBOOK).write_text("")
    (course / KIT / "cache.json").write_text("{}")
    (course / GRADES).symlink_to(tmp_path)  # an output that is a link: only the link
    os.chown(course, 65534, 65533)
    changed = hand_back(course)
    assert changed == 6  # feedback, feedback/ada, the kit's folder, its file, gradebook, link
    for path in (FEEDBACK, f"{FEEDBACK}/ada", f"{KIT}/cache.json", GRADEBOOK):
        info = (course / path).lstat()
        assert (info.st_uid, info.st_gid) == (65534, 65533), path
    assert (course / GRADES).lstat().st_uid == 65534
    assert tmp_path.stat().st_uid == 0
    assert (course / SOURCE).stat().st_uid == 0
    assert (course / SUBMITTED / "ada").stat().st_uid == 0
