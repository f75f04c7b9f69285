"""`archive`: folders packed and unpacked, swapped in whole, and their digests."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from course_utils.grading import archive


def tree(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_a_folder_round_trips_without_its_links(tmp_path):
    src = tree(tmp_path / "src", {"a.ipynb": b"{}", "sub/b.csv": b"1,2"})
    os.symlink("/etc/passwd", src / "passwd")
    os.mkfifo(src / "fifo")
    data = archive.tar_folder(src)
    assert names(data) == ["a.ipynb", "sub", "sub/b.csv"]
    archive.untar(data, tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "b.csv").read_bytes() == b"1,2"
    assert not (tmp_path / "out" / "passwd").exists()


def test_large_files_and_filtered_paths_are_left_out(tmp_path):
    src = tree(tmp_path / "src", {"small": b"x", "big": b"x" * 100, "skip/me": b"x"})
    data = archive.tar_folder(src, max_file=10, keep=lambda p: "skip" not in p.parts)
    assert names(data) == ["small"]


def test_a_missing_folder_packs_as_an_empty_archive(tmp_path):
    data = archive.tar_folder(tmp_path / "nowhere")
    assert names(data) == []
    archive.untar(data, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_too_many_files_or_bytes_are_refused(tmp_path, monkeypatch):
    src = tree(tmp_path / "src", {f"f{i}": b"1234" for i in range(4)})
    monkeypatch.setattr(archive, "MAX_FILES", 3)
    with pytest.raises(archive.TooLarge):
        archive.tar_folder(src)
    monkeypatch.setattr(archive, "MAX_FILES", 100)
    monkeypatch.setattr(archive, "MAX_BYTES", 10)
    with pytest.raises(archive.TooLarge):
        archive.tar_folder(src)
    assert archive.tar_folder(src, keep=lambda p: p.name == "f0")  # what is kept counts


def tar_of(info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info.size = len(data) if info.isreg() else 0
        tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["climb", "link"])
def test_untar_refuses_entries_that_leave_the_folder(tmp_path, kind):
    info = tarfile.TarInfo("../evil" if kind == "climb" else "evil")
    if kind == "link":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(tarfile.TarError):
        archive.untar(tar_of(info, b"evil"), tmp_path / "out" / "in")
    assert not (tmp_path / "out" / "evil").exists()
    assert not (tmp_path / "out" / "in" / "evil").exists()


def test_untar_puts_an_absolute_path_inside_the_folder(tmp_path):
    target = tmp_path / "abs" / "evil"
    archive.untar(tar_of(tarfile.TarInfo(str(target)), b"evil"), tmp_path / "out")
    assert not target.exists()
    assert (tmp_path / "out" / str(target).lstrip("/")).read_bytes() == b"evil"


def test_replace_folder_swaps_the_whole_folder(tmp_path):
    dest = tree(tmp_path / "graded" / "ann", {"old.ipynb": b"old", "gone.txt": b"x"})
    new = archive.tar_folder(tree(tmp_path / "new", {"new.ipynb": b"new"}))
    archive.replace_folder(new, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.ipynb"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["ann"]  # nothing left behind
    umask = os.umask(0)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o777 & ~umask
    archive.replace_folder(new, tmp_path / "fresh" / "bob")  # also where there was none
    assert (tmp_path / "fresh" / "bob" / "new.ipynb").read_bytes() == b"new"


def test_the_digest_follows_every_name_and_byte(tmp_path):
    base = {"a.ipynb": b"{}", "sub/b": b"1"}
    digest = archive.folder_digest(tree(tmp_path / "one", base))
    assert digest == archive.folder_digest(tree(tmp_path / "two", base))
    for i, other in enumerate(
        [{"a.ipynb": b"{ }", "sub/b": b"1"}, {"a.ipynb": b"{}", "b": b"1"}, {"a.ipynb": b"{}"}]
    ):
        assert archive.folder_digest(tree(tmp_path / f"other{i}", other)) != digest
    linked = tree(tmp_path / "linked", base)
    os.symlink("/etc/passwd", linked / "passwd")
    assert archive.folder_digest(linked) == digest


def test_the_digest_of_a_name_that_is_not_utf8(tmp_path):
    folder = tree(tmp_path / "s", {"a": b"1"})
    Path(os.fsdecode(os.fsencode(folder) + b"/\xff")).write_bytes(b"x")
    assert archive.folder_digest(folder) != archive.folder_digest(tree(tmp_path / "t", {"a": b"1"}))
