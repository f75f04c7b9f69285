"""The launcher's watch over a sandbox without a control group: its processes' memory.

Where no control group can be made (an ordinary user, no delegated cgroup v2 subtree), the
launcher (`course_utils.grading.sandbox`) stays as the sandbox's parent and adds up the
proportional set sizes of all its processes every `WATCH_SECONDS`, killing the sandbox past
its budget.

This module runs at every kernel start: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from course_utils.settings import KiB

WATCH_SECONDS = 0.25


def processes_of(uid: int) -> int:
    """How many processes `uid` runs now."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def sandbox_memory(pid: int) -> int:
    """The memory of `pid` and its descendants, in bytes: the sum of their proportional set
    sizes (shared pages split between the processes that map them)."""
    total = 0
    for process in descendants(pid):
        try:
            with open(f"/proc/{process}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * KiB
                        break
        except (OSError, ValueError):
            pass
    return total


def watch(command: list[str], env: dict[str, str], memory: int, fds: list[int]) -> None:
    """Run `command` as a child; kill it when its processes together pass `memory` bytes.

    `fds` are the child's (bubblewrap's copies of the working folder): the watcher closes them.
    """
    child = os.fork()
    if child == 0:
        os.execve(command[0], command, env)
    for fd in fds:
        os.close(fd)

    def stop(*_: object) -> None:
        os.kill(child, signal.SIGKILL)
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
        if memory and sandbox_memory(child) > memory:
            os.kill(child, signal.SIGKILL)
            print(f"the kernel's processes used more than {memory} bytes", file=sys.stderr)
        time.sleep(WATCH_SECONDS)
