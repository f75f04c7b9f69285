"""The kernels' folders: fresh each time, their modes, owners and groups, the files copied."""

from __future__ import annotations

import os
import stat

import pytest

from course_utils.grading.kernel_folders import (
    copy_other_files,
    judge_folder,
    kernel_folder,
    uid_of,
)
from course_utils.grading.sandbox import Settings

IS_ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not IS_ROOT, reason="owners are given out as root only")

PARTS = {"work": 0o700, "sockets": 0o2770, "from-student": 0o2770, "to-student": 0o2750}


def _mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def _no_tmpfs(monkeypatch):
    monkeypatch.delenv(Settings.ISOLATE, raising=False)  # no mounts in these tests


def test_each_kernel_gets_a_fresh_numbered_folder_with_its_parts_and_modes(tmp_path):
    parent = tmp_path / "kernels"
    first = kernel_folder(parent, None, None)
    second = kernel_folder(parent, None, None)
    assert (first.name, second.name) == ("0", "1")
    assert _mode(parent) == 0o711
    for folder in (first, second):
        assert _mode(folder) == 0o711
        assert sorted(p.name for p in folder.iterdir()) == sorted(PARTS)
        for name, mode in PARTS.items():
            assert _mode(folder / name) == mode, name  # umask or not, exactly these


def test_a_used_folder_is_never_handed_out_again(tmp_path):
    parent = tmp_path / "kernels"
    first = kernel_folder(parent, None, None)
    (first / "from-student" / "r1.json").write_text("{}")
    (parent / "7-leftover").mkdir()
    later = kernel_folder(parent, None, None)
    assert later not in (first, parent / "7-leftover")
    assert not any(list(later.joinpath(name).iterdir()) for name in PARTS)


def test_the_parent_of_kernel_folders_is_made_traversable_only(tmp_path):
    parent = tmp_path / "kernels"
    parent.mkdir(mode=0o777)
    os.chmod(parent, 0o777)
    kernel_folder(parent, None, None)
    assert _mode(parent) == 0o711


@as_root
def test_as_root_each_part_belongs_to_the_user_that_writes_it(tmp_path):
    student, judge = 200_001, 200_002
    folder = kernel_folder(tmp_path / "k", student, judge)
    owners = {name: (folder / name).lstat() for name in PARTS}
    assert (owners["work"].st_uid, owners["work"].st_gid) == (0, 0)  # the grader's
    for name in ("sockets", "from-student"):  # the kernel's, in the judge's group
        assert (owners[name].st_uid, owners[name].st_gid) == (student, judge)
    assert (owners["to-student"].st_uid, owners["to-student"].st_gid) == (judge, student)
    for name, mode in PARTS.items():
        assert _mode(folder / name) == mode  # the setgid bit survives chown


@as_root
def test_as_root_without_a_judge_user_the_kernel_owns_its_parts(tmp_path):
    student = 200_003
    folder = kernel_folder(tmp_path / "k", student, None)
    for name in ("sockets", "from-student", "to-student"):
        info = (folder / name).lstat()
        assert (info.st_uid, info.st_gid) == (student, student)


def test_the_judges_folder(tmp_path):
    folder = judge_folder(tmp_path / "judge", None)
    assert folder.name == "0"
    assert sorted(p.name for p in folder.iterdir()) == ["sockets", "work"]
    assert _mode(folder / "work") == 0o700 and _mode(folder / "sockets") == 0o700
    assert judge_folder(tmp_path / "judge", None).name == "1"


@as_root
def test_as_root_the_judges_sockets_are_the_judges(tmp_path):
    folder = judge_folder(tmp_path / "judge", 200_004)
    assert (folder / "sockets").lstat().st_uid == 200_004
    assert (folder / "work").lstat().st_uid == 0


def test_the_user_of_a_kernel_comes_from_its_settings_as_root_only():
    expected = 4242 if IS_ROOT else None
    assert uid_of({Settings.UID: "4242"}) == expected
    assert uid_of({"OTHER": "17"}, "OTHER") == (17 if IS_ROOT else None)
    assert uid_of({}) is None
    assert uid_of({Settings.UID: ""}) is None


def test_other_files_are_copied_without_notebooks_links_or_special_files(tmp_path):
    source, target = tmp_path / "submission", tmp_path / "work"
    (source / "pkg" / "deep").mkdir(parents=True)
    target.mkdir()
    (source / "lab.ipynb").write_text("{}")
    (source / "helper.py").write_text("print('hi')\n")
    (source / "pkg" / "deep" / "weights.bin").write_bytes(b"\x00\x01")
    (source / "pkg" / "other.ipynb").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("grader's")
    (source / "link.txt").symlink_to(secret)
    (source / "linked-dir").symlink_to(tmp_path)
    os.mkfifo(source / "pipe")
    copy_other_files(source, target)
    found = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    assert found == ["helper.py", "pkg", "pkg/deep", "pkg/deep/weights.bin"]
    assert (target / "helper.py").read_text() == "print('hi')\n"
    assert (target / "pkg" / "deep" / "weights.bin").read_bytes() == b"\x00\x01"
    assert not any(p.is_symlink() for p in target.rglob("*"))
