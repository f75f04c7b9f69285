"""`cores`: a grading process's notebooks take one of its cores each, and give it back."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from course_utils.grading import cores


def test_a_process_takes_twice_its_cores_in_submissions():
    assert [cores.ahead(n) for n in (1, 2, 4)] == [2, 4, 8]


def test_no_cores_means_no_limit():
    assert cores.folder(0) == ""
    assert cores.hold("") is None
    cores.let_go(None)


def test_the_folder_is_the_processs_own_with_one_lock_per_core():
    where = cores.folder(3)
    assert cores.folder(3) == where  # made once per process
    assert sorted(os.listdir(where)) == ["0", "1", "2"]
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    assert os.stat(where).st_uid == os.geteuid()


def test_each_notebook_takes_a_core_of_its_own_and_waits_when_none_is_free():
    where = cores.folder(2)
    first, second = cores.hold(where), cores.hold(where)
    assert first is not None and second is not None
    start = time.monotonic()
    assert cores.hold(where, stop=start + 0.2) is None  # both taken: it waited, then gave up
    assert time.monotonic() - start >= 0.2
    cores.let_go(first)
    third = cores.hold(where, stop=time.monotonic() + 5)
    assert third is not None
    for handle in (second, third):
        cores.let_go(handle)


def test_a_process_that_dies_holding_a_core_gives_it_back(tmp_path):
    where = cores.folder(1)
    code = (
        "import sys, time\nfrom course_utils.grading import cores\n"
        f"assert cores.hold({where!r}) is not None\nprint('held', flush=True)\ntime.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert cores.hold(where, stop=time.monotonic() + 0.2) is None
        holder.kill()
        holder.wait()
        taken = cores.hold(where, stop=time.monotonic() + 5)
        assert taken is not None
        cores.let_go(taken)
    finally:
        holder.kill()


def test_a_folder_without_cores_is_refused(tmp_path):
    with pytest.raises(OSError, match="holds no core"):
        cores.hold(str(tmp_path))
