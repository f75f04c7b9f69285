"""The wire format's files: manifests and ``.npy`` arrays read safely, hostile ones refused.

Everything in the answer folder is written by the student's kernel: names, links, headers and
sizes may all lie. Each lie is refused with `Refused` (`RefusedArray` for array files) or, when
there is no answer at all, `StudentError`; nothing outside the folder is read.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from numpy.lib import format as npy

from course_utils.grading.wire import (
    MAX_FILE,
    MAX_MANIFEST,
    Answer,
    Refused,
    RefusedArray,
    StudentError,
)


def _npy(path, header: dict, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> None:
    """An ``.npy`` file with the header given, whatever the data."""
    buffer = io.BytesIO()
    if version == (1, 0):
        npy.write_array_header_1_0(buffer, header)
    else:
        npy.write_array_header_2_0(buffer, header)
    path.write_bytes(buffer.getvalue() + data)


def _header(descr: str, shape: tuple, fortran: bool = False) -> dict:
    return {"descr": descr, "fortran_order": fortran, "shape": shape}


@pytest.fixture
def answer(tmp_path):
    return Answer(tmp_path, "r1")


def test_a_manifest_is_read_as_json(answer, tmp_path):
    (tmp_path / "r1.json").write_text(json.dumps({"values": {"x": {"t": "none"}}}))
    assert answer.manifest() == {"values": {"x": {"t": "none"}}}


def test_no_manifest_means_the_kernel_did_not_answer(answer):
    with pytest.raises(StudentError, match="did not answer"):
        answer.manifest()


@pytest.mark.parametrize(
    "text",
    ["{not json", "", "\xff\xfe", "[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1"],
)
def test_a_manifest_that_is_not_json_is_refused(answer, tmp_path, text):
    (tmp_path / "r1.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(Refused, match="malformed"):
        answer.manifest()


@pytest.mark.parametrize("value", [[], "values", 3, None])
def test_a_manifest_that_is_not_an_object_is_refused(answer, tmp_path, value):
    (tmp_path / "r1.json").write_text(json.dumps(value))
    with pytest.raises(Refused, match="something else than a manifest"):
        answer.manifest()


def test_an_oversized_manifest_is_refused_before_it_is_read(answer, tmp_path):
    with open(tmp_path / "r1.json", "wb") as f:
        f.truncate(MAX_MANIFEST + 1)  # sparse: no disk, no memory
    with pytest.raises(Refused, match="at most"):
        answer.manifest()


def test_a_manifest_that_links_elsewhere_is_never_followed(answer, tmp_path):
    secret = tmp_path.parent / f"{tmp_path.name}-secret.json"
    secret.write_text('{"values": {"stolen": {"t": "str", "v": "grader data"}}}')
    (tmp_path / "r1.json").symlink_to(secret)
    with pytest.raises(Refused, match="will not read"):
        answer.manifest()


def test_a_fifo_or_a_folder_in_place_of_a_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "r1.json")  # opening it for reading would block without O_NONBLOCK
    with pytest.raises(Refused, match="not a plain file"):
        Answer(tmp_path, "r1").manifest()
    (tmp_path / "r2.json").mkdir()
    with pytest.raises(Refused):
        Answer(tmp_path, "r2").manifest()


@pytest.mark.parametrize(
    "name",
    [
        "../r1-0.npy",
        "/etc/passwd",
        "r1-0.npy/../../secret",
        "sub/r1-0.npy",
        "r1-0.pkl",
        "r1-0.npy.bak",
        "R1-0.npy",
        "r1-0.npy\n",
        "r1--1.npy",
    ],
)
def test_file_names_outside_the_pattern_are_refused(answer, name):
    with pytest.raises(Refused):
        answer.array(name)


@pytest.mark.parametrize("name", [None, 7, ["r1-0.npy"], "r2-0.npy", "r1.json", "r10-0.npy"])
def test_files_of_another_request_or_not_names_are_refused(answer, tmp_path, name):
    np.save(tmp_path / "r2-0.npy", np.zeros(1), allow_pickle=False)
    np.save(tmp_path / "r10-0.npy", np.zeros(1), allow_pickle=False)
    with pytest.raises(Refused, match="another request"):
        answer.array(name)


def test_an_array_file_that_links_outside_the_folder_is_not_followed(answer, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.npy"
    np.save(outside, np.arange(3), allow_pickle=False)
    (tmp_path / "r1-0.npy").symlink_to(outside)
    with pytest.raises(Refused, match="will not read"):
        answer.array("r1-0.npy")
    with pytest.raises(Refused):
        answer.shape("r1-0.npy")


def test_a_missing_array_file_means_no_answer(answer):
    with pytest.raises(StudentError):
        answer.array("r1-0.npy")


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=">i4").reshape(2, 3, 4),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array("ünï"),
        np.array([b"ab", b"c"]),
        np.zeros((3, 0)),
        np.array([1 + 1j], dtype=np.complex64),
        np.array([True]),
    ],
)
def test_honest_arrays_are_read_as_numpy_wrote_them(answer, tmp_path, array):
    np.save(tmp_path / "r1-0.npy", array, allow_pickle=False)
    assert answer.shape("r1-0.npy") == array.shape
    back = answer.array("r1-0.npy")
    assert back.dtype == array.dtype and np.array_equal(back, array)
    assert back.flags.f_contiguous == array.flags.f_contiguous or array.ndim < 2


def test_a_version_2_header_is_read(answer, tmp_path):
    data = np.arange(4, dtype="<u2")
    _npy(tmp_path / "r1-0.npy", _header("<u2", (4,)), data.tobytes(), version=(2, 0))
    assert answer.array("r1-0.npy").tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("header", "data", "why"),
    [
        (_header("<f8", (1000,)), b"\0" * 8, "claims 8000 bytes"),  # claims more than held
        (_header("<f8", (10**12,)), b"\0" * 8, "claims"),  # a terabyte: never allocated
        (_header("<f8", (1,)), b"\0" * 16, "holds 16"),  # more than claimed
        (_header("|O", (1,)), b"\0" * 8, "Python objects"),
        (_header("<M8[s]", (1,)), b"\0" * 8, "dtype"),
        (_header("|V8", (1,)), b"\0" * 8, "dtype"),
        (_header("|S0", (1,)), b"", "dtype"),
        (_header("<i4", (-1,)), b"", "shape"),
        (_header("<i4", (2, -2)), b"", "shape"),
    ],
)
def test_array_headers_that_lie_are_refused(answer, tmp_path, header, data, why):
    _npy(tmp_path / "r1-0.npy", header, data)
    with pytest.raises(RefusedArray, match=why):
        answer.array("r1-0.npy")
    with pytest.raises(RefusedArray):
        answer.shape("r1-0.npy")


def test_structured_arrays_are_refused(answer, tmp_path):
    np.save(tmp_path / "r1-0.npy", np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
    with pytest.raises(RefusedArray, match="dtype"):
        answer.array("r1-0.npy")


@pytest.mark.parametrize(
    "raw",
    [
        b"not an npy file at all",
        b"\x93NUMPY\x03\x00" + b"\x10\x00" + b"{}".ljust(16),  # version 3.0
        b"\x93NUMPY\x01\x00\x10\x00" + b"__import__('os')".ljust(16),
        b"\x93NUMPY\x01\x00\x10\x00" + b"{'descr': 1}".ljust(16),
        b"\x93NUMPY\x01\x00\xff\xff" + b"{",  # a header longer than the file
        b"",
    ],
)
def test_files_that_are_not_npy_are_refused(answer, tmp_path, raw):
    (tmp_path / "r1-0.npy").write_bytes(raw)
    with pytest.raises(RefusedArray):
        answer.array("r1-0.npy")


def test_refused_arrays_are_value_errors_as_numpys_refusals_are():
    assert issubclass(RefusedArray, ValueError) and issubclass(RefusedArray, Refused)
    assert issubclass(Refused, TypeError)


def test_an_array_file_past_the_size_limit_is_refused_before_its_header(answer, tmp_path):
    path = tmp_path / "r1-0.npy"
    np.save(path, np.zeros(1), allow_pickle=False)
    with open(path, "r+b") as f:
        f.truncate(MAX_FILE + 1)  # sparse
    with pytest.raises(Refused, match="not a plain file of at most"):
        answer.array("r1-0.npy")


def test_one_answers_arrays_together_are_bounded(tmp_path):
    from course_utils.grading import wire

    np.save(tmp_path / "r1-0.npy", np.zeros(100, dtype=np.uint8), allow_pickle=False)
    answer = Answer(tmp_path, "r1")
    answer.read = wire.MAX_ANSWER - 50  # what earlier arrays of this answer took
    with pytest.raises(Refused, match="exceed"):
        answer.array("r1-0.npy")


def test_removing_an_answer_deletes_its_files_only(tmp_path):
    for name in ("r1.json", "r1-0.npy", "r1-1.npy", "r10.json", "r10-0.npy", "r2.json"):
        (tmp_path / name).write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-kept.npy"
    outside.write_text("kept")
    (tmp_path / "r1-2.npy").symlink_to(outside)
    Answer(tmp_path, "r1").remove()
    assert sorted(os.listdir(tmp_path)) == ["r10-0.npy", "r10.json", "r2.json"]
    assert outside.read_text() == "kept"  # the link went, not its target
    Answer(tmp_path, "r3").remove()  # nothing of its own: nothing happens
