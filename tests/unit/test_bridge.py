"""`StudentKernel`: the judge's requests to a real student's kernel, over Unix sockets."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from course_utils.grading.bridge import StudentKernel
from course_utils.grading.values import decode
from course_utils.grading.wire import StudentError

from .kernels import connection, student_kernel

NOTEBOOK = """
import numpy as np
images = np.arange(6, dtype=np.uint8).reshape(2, 3)
student = "ada"
def double(v):
    return v * 2
def broken(v):
    raise TypeError("not a number: " + repr(v))
def slow():
    import time
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """A student's kernel that ran the notebook above, and the bridge's two folders."""
    root = tmp_path_factory.mktemp("bridge")
    with student_kernel(root, NOTEBOOK) as km:
        yield km, root


def _judge(km, root, inbox: str = "from-student", timeout: float = 30) -> StudentKernel:
    return StudentKernel(connection(km), str(root / inbox), str(root / "to-student"), timeout)


def test_the_kernel_answers_its_heartbeat(notebook):
    assert _judge(*notebook).alive()


def test_request_ids_count_up_per_judge(notebook):
    kernel = _judge(*notebook)
    assert [kernel.next_id() for _ in range(3)] == ["r1", "r2", "r3"]
    assert _judge(*notebook).next_id() == "r1"


def test_the_notebooks_names_come_back_as_data_and_their_files_are_removed(notebook):
    km, root = notebook
    kernel = _judge(km, root)
    manifest, answer = kernel.request("get", names=["images", "student", "missing"])
    values = manifest["values"]
    assert set(values) == {"images", "student"}  # a name the notebook lacks is left out
    assert values["student"] == {"t": "str", "v": "ada"}
    assert values["images"]["t"] == "array"
    array = answer.array(values["images"]["f"])
    assert array.dtype == np.uint8 and array.tolist() == [[0, 1, 2], [3, 4, 5]]
    inbox = root / "from-student"
    assert sorted(os.listdir(inbox)) == ["r1-0.npy", "r1.json"]
    answer.remove()
    assert os.listdir(inbox) == []


def test_a_function_of_the_notebook_runs_there_with_the_judges_arguments(notebook):
    km, root = notebook
    kernel = _judge(km, root)
    manifest, answer = kernel.request("get", names=["double", "broken"])
    double = decode(manifest["values"]["double"], answer, kernel, {})
    broken = decode(manifest["values"]["broken"], answer, kernel, {})
    answer.remove()
    result = double(np.array([1.5, 2.0]))
    assert isinstance(result, np.ndarray) and result.tolist() == [3.0, 4.0]
    assert double(("a", 2)) == ("a", 2, "a", 2)
    assert double({"k": 1}.get("k")) == 2
    with pytest.raises(StudentError, match=r"broken\(\) raised TypeError: not a number: 'x'"):
        broken("x")
    assert os.listdir(root / "to-student") == []  # the arguments' files are removed
    assert os.listdir(root / "from-student") == []  # and the answers'


def test_a_kernel_where_the_bridge_fails_did_not_answer_and_says_why(notebook):
    km, root = notebook
    kernel = _judge(km, root)
    kernel.source = "raise RuntimeError('the bridge could not run')"  # e.g. a shadowed module
    with pytest.raises(StudentError, match="did not answer the grader.*RuntimeError: the bridge"):
        kernel.request("get", names=["student"])


def test_a_call_past_the_timeout_is_interrupted_and_the_kernel_serves_again(notebook):
    km, root = notebook
    kernel = _judge(km, root, timeout=1)
    manifest, answer = kernel.request("get", names=["slow"])
    slow = decode(manifest["values"]["slow"], answer, kernel, {})
    answer.remove()
    start = time.monotonic()
    with pytest.raises(StudentError, match="did not answer within 1 s"):
        slow()
    assert time.monotonic() - start < 15
    kernel.timeout = 30
    manifest, answer = kernel.request("get", names=["student"])  # interrupted: it serves
    assert manifest["values"]["student"]["v"] == "ada"
    answer.remove()


def test_a_kernel_that_stopped_answers_no_heartbeat(notebook):
    km, root = notebook  # the last test of this file: the kernel goes
    kernel = _judge(km, root)
    assert kernel.alive(wait=3)
    km.shutdown_kernel(now=True)
    assert not kernel.alive(wait=0.5)
