"""One memory and process budget for all of a kernel's processes: a control group.

Where the grader may make control groups (as root, or in a delegated cgroup v2 subtree), each
submission gets one with a memory limit (anonymous, shared and tmpfs memory all count) and a
process limit. The kernel's launcher joins it before starting the sandbox; after grading,
`remove` kills whatever is still in it and deletes it. Where no control group can be made,
`create` returns no paths and the launcher falls back on its own watcher
(`course_utils.grading.sandbox`).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path


def _own_groups() -> dict[str, Path]:
    """The folders of this process's own control groups: "memory", "pids" (v1) or "unified"."""
    mounts: dict[str, tuple[str, str]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, (fstype, _, options) = left.split(), right.split()[:3]
        if fstype == "cgroup2":
            mounts.setdefault("unified", (fields[3], fields[4]))
        elif fstype == "cgroup":
            for controller in ("memory", "pids", "cpuacct"):
                if controller in options.split(","):
                    mounts.setdefault(controller, (fields[3], fields[4]))
    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        names = ["unified"] if controllers == "" else controllers.split(",")
        for name in names:
            if name in mounts:
                root, mountpoint = mounts[name]
                relative = os.path.relpath(path, root) if path.startswith(root) else "."
                found[name] = Path(mountpoint) / relative
    return found


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def create(memory: int, processes: int) -> list[str]:
    """A new control group limiting memory (bytes) and processes, or [] where none can be made.

    Returns:
        Its folders (one per cgroup v1 hierarchy, or one cgroup v2 folder).
    """
    name = f"course-kit-{os.getpid()}-{secrets.token_hex(4)}"
    made: list[Path] = []
    try:
        groups = _own_groups()
        if "memory" in groups:  # cgroup v1
            memory_group = groups["memory"] / name
            memory_group.mkdir()
            made.append(memory_group)
            _write(memory_group / "memory.limit_in_bytes", str(memory))
            if (memory_group / "memory.memsw.limit_in_bytes").exists():
                _write(memory_group / "memory.memsw.limit_in_bytes", str(memory))
            if "pids" in groups:
                pids_group = groups["pids"] / name
                pids_group.mkdir()
                made.append(pids_group)
                _write(pids_group / "pids.max", str(processes))
            if "cpuacct" in groups:  # CPU time: the sandbox's processes are never waited for
                (groups["cpuacct"] / name).mkdir()
                made.append(groups["cpuacct"] / name)
        elif "unified" in groups:
            parent = groups["unified"]
            if "memory" not in (parent / "cgroup.controllers").read_text().split():
                return []
            group = parent / name
            group.mkdir()
            made.append(group)
            _write(group / "memory.max", str(memory))
            if (group / "memory.swap.max").exists():
                _write(group / "memory.swap.max", "0")
            if (group / "pids.max").exists():
                _write(group / "pids.max", str(processes))
        return [str(p) for p in made]
    except (OSError, ValueError, IndexError):
        remove([str(p) for p in made])
        return []


def join(paths: list[str]) -> None:
    """Move this process into the control groups `paths` (its children follow)."""
    for path in paths:
        _write(Path(path) / "cgroup.procs", str(os.getpid()))


def usage(paths: list[str]) -> tuple[float, int]:
    """CPU seconds and peak memory in bytes (page cache included) of the groups `paths`."""
    cpu, peak = 0.0, 0
    for path in map(Path, paths):
        try:
            if (path / "cpuacct.usage").exists():
                cpu += int((path / "cpuacct.usage").read_text()) / 1e9
            if (path / "cpu.stat").exists():
                stat = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
                cpu += int(stat.get("usage_usec", 0)) / 1e6
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                if (path / name).exists():
                    peak = max(peak, int((path / name).read_text()))
        except (OSError, ValueError):
            pass
    return cpu, peak


def remove(paths: list[str]) -> int:
    """Kill every process left in the control groups `paths`, then delete them.

    Returns:
        How many processes were killed.
    """
    killed = 0
    for path in paths:
        group = Path(path)
        for _ in range(100):
            try:
                pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            time.sleep(0.05)
        try:
            group.rmdir()
        except OSError:
            pass
    return killed
