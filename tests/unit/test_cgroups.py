"""`cgroups`: a control group's usage read from its files, and groups made and removed."""

from __future__ import annotations

import os
from pathlib import Path

from course_utils.grading import cgroups


def group(folder: Path, files: dict[str, str]) -> str:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return str(folder)


def test_usage_adds_cpu_and_takes_the_highest_peak_across_v1_and_v2(tmp_path):
    v1_cpu = group(tmp_path / "cpuacct", {"cpuacct.usage": "2500000000\n"})
    v1_memory = group(tmp_path / "memory", {"memory.max_usage_in_bytes": "4096\n"})
    v2 = group(
        tmp_path / "unified",
        {"cpu.stat": "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
         "memory.peak": "8192\n"},
    )  # fmt: skip
    assert cgroups.usage([v1_cpu, v1_memory]) == (2.5, 4096)
    assert cgroups.usage([v2]) == (1.5, 8192)
    assert cgroups.usage([v1_cpu, v1_memory, v2]) == (4.0, 8192)
    assert cgroups.usage([]) == (0.0, 0)


def test_usage_skips_what_it_cannot_read(tmp_path):
    broken = group(tmp_path / "broken", {"cpuacct.usage": "lots", "memory.peak": "9"})
    missing = str(tmp_path / "gone")
    no_usage = group(tmp_path / "v2", {"cpu.stat": "user_usec 5\n"})
    assert cgroups.usage([broken, missing]) == (0.0, 0)
    assert cgroups.usage([no_usage]) == (0.0, 0)


def test_remove_deletes_empty_groups_and_survives_missing_ones(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cgroups.remove([str(empty), str(tmp_path / "never-made")]) == 0
    assert not empty.exists()


def test_own_groups_are_folders_of_a_mounted_hierarchy():
    found = cgroups._own_groups()
    assert set(found) <= {"memory", "pids", "cpuacct", "unified"}
    for folder in found.values():
        assert folder.is_absolute()


def test_create_gives_a_group_with_its_limits_or_nothing():
    paths = cgroups.create(256 << 20, 64)
    try:
        for path in map(Path, paths):  # where groups can be made here
            assert path.is_dir() and path.name.startswith(f"course-kit-{os.getpid()}-")
            limits = [path / n for n in ("memory.max", "memory.limit_in_bytes", "pids.max")]
            values = {p.name: p.read_text().strip() for p in limits if p.exists()}
            assert values.get("memory.max", values.get("memory.limit_in_bytes")) in (
                None,
                str(256 << 20),
            )
            assert values.get("pids.max") in (None, "64")
        assert cgroups.usage(paths)[1] >= 0
    finally:
        assert cgroups.remove(paths) == 0  # no process ever joined
    assert not any(Path(p).exists() for p in paths)
