"""The bubblewrap command of a sandbox: its namespaces, binds and copied files (not run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from course_utils.grading import namespaces
from course_utils.grading.namespaces import HOME, HOW_TO_ENABLE, Mounts, command, readable


def _pairs(cmd: list[str], option: str) -> list[tuple[str, str]]:
    """The (source, destination) of each `option` in `cmd`."""
    return [(cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd) if a == option]


def _singles(cmd: list[str], option: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == option]


@pytest.fixture
def work(tmp_path):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "model.py").write_text("x = 1\n")
    (work / "sub" / "data.txt").write_text("d")
    (work / "link-to-secret").symlink_to("/etc/passwd")
    (work / "link-dir").symlink_to(tmp_path)
    os.mkfifo(work / "fifo")
    return work


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def test_every_namespace_is_new_and_the_kernel_dies_with_its_parent(work):
    cmd, fds = command(["python", "-m", "ipykernel_launcher"], Mounts(work=work))
    _close(fds)
    assert cmd[0].endswith("bwrap")
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"):
        assert flag in cmd
    assert "--new-session" in cmd
    assert "--share-net" not in cmd
    assert cmd[cmd.index("--hostname") + 1] == "sandbox"
    separator = cmd.index("--")
    assert cmd[separator + 1 :] == ["python", "-m", "ipykernel_launcher"]
    assert cmd[cmd.index("--chdir") + 1] == str(work)


def test_the_shared_folders_are_bound_read_only_or_writable_as_given(work, tmp_path):
    sockets, answers = tmp_path / "sockets", tmp_path / "from-student"
    connection, questions = tmp_path / "kernel.json", tmp_path / "to-student"
    data = tmp_path / "data"
    for folder in (sockets, answers, questions, data):
        folder.mkdir()
    connection.write_text("{}")
    mounts = Mounts(
        work=work,
        writable=[sockets, answers],
        readonly=[connection, questions],
        data=data,
        tmpfs_bytes=12345,
    )
    cmd, fds = command(["k"], mounts)
    _close(fds)
    ro = _pairs(cmd, "--ro-bind")
    rw = _pairs(cmd, "--bind")
    assert all(src == dst for src, dst in ro + rw)  # every path keeps its own name
    assert sorted(src for src, _ in rw) == sorted([str(sockets), str(answers)])
    ro_paths = {src for src, _ in ro}
    assert {str(connection), str(questions), str(data.resolve())} <= ro_paths
    assert str(Path(sys.executable).resolve().parent) in ro_paths or any(
        str(Path(sys.executable).resolve()).startswith(p) for p in ro_paths
    )
    assert str(Path(namespaces.__file__).resolve().parents[1]) in ro_paths  # the kit
    assert str(work) not in ro_paths and str(work) not in {s for s, _ in rw}
    # private, size-capped tmpfs: the work folder, home, /tmp and /dev/shm
    tmpfs = _singles(cmd, "--tmpfs")
    assert set(tmpfs) == {"/tmp", "/dev/shm", HOME, str(work)}
    sizes = _singles(cmd, "--size")
    assert sizes == ["12345"] * 4
    for i, arg in enumerate(cmd):
        if arg == "--tmpfs":
            assert cmd[i - 2] == "--size"
    # no writable bind of anything the kernel only reads
    assert not ({str(connection), str(questions)} & {s for s, _ in rw})


def test_the_system_is_read_only_and_no_home_or_course_is_bound(work):
    cmd, fds = command(["k"], Mounts(work=work))
    _close(fds)
    ro = {src for src, _ in _pairs(cmd, "--ro-bind")}
    links = {dst for _, dst in _pairs(cmd, "--symlink")}
    assert "/usr" in ro
    for path in namespaces.SYSTEM:
        if os.path.islink(path):
            assert path in links
        elif os.path.isdir(path):
            assert path in ro
    rw = {src for src, _ in _pairs(cmd, "--bind")}
    assert rw == set()
    assert "/" not in ro and "/root" not in ro and "/home" not in ro and "/etc" not in ro
    assert cmd[cmd.index("--proc") + 1] == "/proc"
    assert cmd[cmd.index("--dev") + 1] == "/dev"


def test_the_work_folders_plain_files_are_copied_through_descriptors_links_never(work):
    cmd, fds = command(["k"], Mounts(work=work))
    try:
        files = dict((dst, int(fd)) for fd, dst in _pairs(cmd, "--file"))
        assert set(files) == {str(work / "model.py"), str(work / "sub" / "data.txt")}
        assert sorted(files.values()) == sorted(fds)
        for path, fd in files.items():
            assert os.get_inheritable(fd)
            assert os.pread(fd, 100, 0) == Path(path).read_bytes()
        dirs = _singles(cmd, "--dir")
        assert dirs == [str(work / "sub")]
        text = " ".join(cmd)
        assert "link-to-secret" not in text and "link-dir" not in text and "fifo" not in text
        # the work folder's tmpfs comes before the files copied into it
        assert cmd.index(str(work)) < cmd.index("--file")
    finally:
        _close(fds)


def test_the_readable_paths_are_absolute_existing_and_outside_usr(tmp_path):
    paths = readable(tmp_path)
    assert tmp_path.resolve() in paths
    assert all(p.is_absolute() and p.exists() for p in paths)
    assert all(p != Path("/usr") and Path("/usr") not in p.parents for p in paths)
    assert paths == sorted(paths)
    assert readable(tmp_path / "missing") == readable(None)


def test_a_system_link_stays_a_link_and_a_missing_one_is_left_out(tmp_path):
    link = tmp_path / "lib"
    link.symlink_to("usr/lib")
    assert namespaces._system(str(link)) == ["--symlink", "usr/lib", str(link)]
    assert namespaces._system(str(tmp_path)) == ["--ro-bind", str(tmp_path), str(tmp_path)]
    assert namespaces._system(str(tmp_path / "none")) == []


def test_why_a_sandbox_cannot_be_made_says_what_to_do():
    problem = namespaces.unavailable()
    assert problem is None or problem.endswith(HOW_TO_ENABLE)
