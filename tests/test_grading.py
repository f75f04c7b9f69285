"""Grading a class with `python -m course_utils.grade`: parallel workers, limits, isolation,
leak-free feedback, resuming after an interruption, and the same gradebook as plain nbgrader.

The class is the lab's reference solution and the hostile tricks below, each notebook with the
tests it must lose (a trick in the confusion-matrix cell shares its notebook with one in an
earlier cell, aimed at another test). Training is shortened by LAB_EPOCHS, as in the round trip.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_utils.assignments import nbgrader
from course_utils.grading.preprocessors.hide_hidden_tests import is_test
from support import (
    LAB,
    Course,
    assert_no_hidden_tests,
    build_class,
    cell,
    grade_id_of,
    mutate,
    with_code,
)

ASSIGNMENT = "lab3_part2"
IS_ROOT = os.geteuid() == 0
# Three times the longest cell of a 1-epoch run on two busy cores (the training cell, ~30 s),
# short enough that the student who loops forever costs little.
CELL_TIMEOUT = 90
MEMORY = "3G"


def probe(targets: dict[str, str], action: str) -> str:
    """Code that tries `action` ('read' or 'write') on each target and prints what happened."""
    return f"""
import json as _json
import os as _os
import sqlite3 as _sqlite3

_results = {{}}
for _name, _path in {targets!r}.items():
    try:
        if {action!r} == "read":
            if _os.path.isdir(_path):
                _results[_name] = f"listed {{len(_os.listdir(_path))}} entries"
            else:
                with open(_path, "rb") as _f:
                    _results[_name] = f"read {{len(_f.read())}} bytes"
        else:
            _con = _sqlite3.connect(_path)
            _con.execute("UPDATE grade SET auto_score = 100")
            _con.commit()
            _results[_name] = "wrote"
    except Exception as _e:
        _results[_name] = type(_e).__name__
print("PROBE " + _json.dumps({{"uid": _os.getuid(), **_results}}))
"""


def hostile(
    reference: nbformat.NotebookNode, course: Course
) -> dict[str, tuple[nbformat.NotebookNode, set[str]]]:
    """Student -> (notebook, the tests it must lose)."""
    wrong_order = LAB.wrong["wrong_order"]
    edited = mutate(reference, *wrong_order[:3])
    cell(edited, "test_model").source = 'print("Exercise 2: visible checks passed.")'

    deleted = mutate(reference, *LAB.wrong["transposed_confusion"][:3])
    deleted.cells = [c for c in deleted.cells if grade_id_of(c) != "test_confusion"]

    redefined = mutate(
        reference,
        "accuracy",
        "test_loss, test_accuracy = model.evaluate(test_img, test_labels_1h, verbose=0)",
        """import course_utils.data as _kit_data

_real_load = _kit_data.load_fashion_mnist


def load_fashion_mnist(*args, **kwargs):
    # the test set's labels replaced by this model's own predictions: 100% "accuracy"
    (xtr, ytr), (xte, _) = _real_load(*args, **kwargs)
    return (xtr, ytr), (xte, model.predict(preprocess_images(xte), verbose=0).argmax(axis=1))


_kit_data.load_fashion_mnist = load_fashion_mnist
test_accuracy = 1.0""",
    )

    always_equal = mutate(
        reference,
        "confusion",
        "cm = confusion_matrix(actual, predicted)",
        """class AllEqual(np.ndarray):
    def __eq__(self, other):
        return True


cm = np.full((10, 10), 100).view(AllEqual)""",
    )

    other = course.root / "submitted" / "reference" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    reads = {
        "solutions": str(course.source),
        "source folder": str(course.source.parent),
        "course gradebook": str(course.root / "gradebook.db"),
        "other student": str(other),
        "graded notebook": f"../course/autograded/reads_solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        "grader's gradebook": "../course/gradebook.db",
        "course folder": str(course.root),
    }
    writes = {
        "course gradebook": str(course.root / "gradebook.db"),
        "grader's gradebook": "../course/gradebook.db",
    }

    # Tricks that need no trained network run on the lab as handed out (every test lost).
    release = nbformat.read(course.release, as_version=4)
    unsolved = set(LAB.tests)
    leaker = with_code(
        release,
        "preprocess",
        after="""


def _show_each_cell(info):
    print(info.raw_cell)


get_ipython().events.register("pre_run_cell", _show_each_cell)""",
    )

    # Tricks in the confusion-matrix cell come last in a notebook; each follows a trick in an
    # earlier cell, aimed at another test (one training for the two).
    loop = "import time\n\nwhile True:\n    time.sleep(1)\n"
    hog = "_hog = [np.ones(2**27) for _ in range(8)]  # 8 GiB\n"
    return {
        "always_equal": (always_equal, {"test_confusion"}),
        "reads_solutions": (
            with_code(release, "preprocess", after="\n" + probe(reads, "read")),
            unsolved,
        ),
        "writes_gradebook": (
            with_code(release, "preprocess", after="\n" + probe(writes, "write")),
            unsolved,
        ),
        "floods_output": (
            with_code(
                release,
                "preprocess",
                after='\nprint("x" * 3_000_000)\nfor _i in range(50_000):\n    print(_i)',
            ),
            unsolved,
        ),
        # the loop waits rather than spins: the same cell limit stops both, and a spinning loop
        # would take a core from the tests beside it for the whole limit
        "edited_test_cell__loops_forever": (
            with_code(edited, "confusion", before=loop),
            {"test_model", "test_confusion"},
        ),
        "exhausts_memory__deleted_test_cell": (
            with_code(deleted, "accuracy", before=hog),
            {"test_accuracy", "test_confusion"},
        ),
        "redefined_helper__exits_kernel": (
            with_code(redefined, "confusion", before="import os\n\nos._exit(3)\n"),
            {"test_accuracy", "test_confusion"},
        ),
        "leaks_tests": (leaker, unsolved),
    }


def graded_markers(course: Course) -> list[Path]:
    return list((course.root / "autograded").glob(f"*/{ASSIGNMENT}/.graded-submission"))


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """The class, graded once with an interruption after two submissions, then resumed."""
    course = Course(tmp_path_factory.mktemp("class"), ASSIGNMENT)
    reference = build_class(course, LAB, mistakes=(), untouched=False)
    expected = {"reference": set()}
    for student, (nb, lost) in hostile(reference, course).items():
        course.submit(student, nb)
        expected[student] = lost
    broken = course.root / "submitted" / "broken" / ASSIGNMENT
    broken.mkdir(parents=True)
    (broken / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [ this is not a notebook')

    args = [
        "--workers",
        "2",
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--timeout",
        "900",
        "--memory",
        MEMORY,
    ]
    first = course.grade_process(*args)
    deadline = time.monotonic() + 1800
    while len(graded_markers(course)) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(2)
    first.send_signal(signal.SIGINT)
    first_out, first_err = first.communicate(timeout=300)
    interrupted = {
        "returncode": first.returncode,
        "stderr": first_err,
        "graded": len(graded_markers(course)),
        "integrity": sqlite3.connect(course.root / "gradebook.db")
        .execute("PRAGMA integrity_check")
        .fetchone()[0],
        "leftovers": [
            p.name
            for p in (course.root / "autograded").glob("*/.*")
            if p.name.startswith((".incoming", ".old"))
        ],
    }
    second = course.grade(*args)
    return {
        "course": course,
        "expected": expected,
        "interrupted": interrupted,
        "resumed": second,
        "scores": course.scores(),
    }


def test_interrupted_run_keeps_what_it_graded(hostile_class):
    run = hostile_class["interrupted"]
    assert run["returncode"] == 130, run["stderr"]
    assert "run again to grade the rest" in run["stderr"]
    assert run["graded"] >= 2
    assert run["integrity"] == "ok"
    assert run["leftovers"] == []


def test_resumed_run_grades_only_the_rest(hostile_class):
    run, done = hostile_class["resumed"], hostile_class["interrupted"]["graded"]
    output = run.stdout + run.stderr
    assert f"{done} submission(s) already graded and unchanged: skipped" in output
    # the progress bar counts what is left, its rate per minute, time left, and failures
    total = len(hostile_class["expected"]) + 1 - done
    bar = rf"{total}/{total} \[[0-9:]+ taken, [0-9:]+ left, [0-9.]+/min, 1 failed\]"
    assert re.search(bar, output), output[-3000:]
    assert f"{len(hostile_class['expected']) - done} graded, 1 failed, {done} skipped" in output


def test_each_hostile_submission_gets_exactly_what_it_earned(hostile_class):
    scores, expected = hostile_class["scores"], hostile_class["expected"]
    assert set(scores) == set(expected)
    report = {}
    for student, lost_expected in expected.items():
        lost = {t for t, (s, m) in scores[student].items() if s < m}
        if lost != lost_expected or any(scores[student][t][0] != 0 for t in lost):
            report[student] = {"lost": sorted(lost), "expected": sorted(lost_expected)}
    assert report == {}


def test_a_broken_submission_is_reported_and_harms_no_one(hostile_class):
    course, run = hostile_class["course"], hostile_class["resumed"]
    assert run.returncode == 1
    assert "broken: failed" in run.stderr
    rows = {
        r["student_id"]: r
        for r in csv.DictReader(open(course.root / "grades" / f"{ASSIGNMENT}.csv"))
    }
    assert rows["broken"]["status"].startswith("failed: ")
    assert rows["reference"]["status"] == "graded"
    assert float(rows["reference"]["score"]) == sum(
        m for _, m in hostile_class["scores"]["reference"].values()
    )
    assert set(rows) == set(hostile_class["expected"]) | {"broken"}


def outputs(course: Course, student: str, grade_id: str) -> str:
    nb = course.autograded(student)
    texts = []
    for out in cell(nb, grade_id).outputs:
        texts.append(
            out.get("text", "")
            if out.output_type == "stream"
            else f"{out.get('ename')}: {out.get('evalue')}"
        )
    return "".join(texts)


def test_what_broke_each_notebook_is_said_in_it(hostile_class):
    course = hostile_class["course"]
    assert "KernelDied: the kernel stopped while this cell ran" in outputs(
        course, "redefined_helper__exits_kernel", "confusion"
    )
    assert "NotRun: not run: the kernel stopped in an earlier cell" in outputs(
        course, "redefined_helper__exits_kernel", "test_confusion"
    )
    assert "MemoryError" in outputs(course, "exhausts_memory__deleted_test_cell", "accuracy")
    assert "CellTimeoutError" in outputs(course, "edited_test_cell__loops_forever", "confusion")
    assert "bytes of output were not kept" in outputs(course, "floods_output", "preprocess")
    size = (
        (course.root / "autograded" / "floods_output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        .stat()
        .st_size
    )
    assert size < 2_000_000, size


def probe_result(course: Course, student: str) -> dict:
    text = outputs(course, student, "preprocess")
    line = next(line for line in text.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


def test_student_code_reads_no_solutions_gradebook_or_other_students(hostile_class):
    found = probe_result(hostile_class["course"], "reads_solutions")
    uid = found.pop("uid")
    assert uid != 0 or not IS_ROOT
    # none of them exists in the sandbox (tests/test_sandbox.py: as root and as a user)
    assert found == {name: "FileNotFoundError" for name in found}, found


def test_student_code_cannot_write_the_gradebook(hostile_class):
    found = probe_result(hostile_class["course"], "writes_gradebook")
    found.pop("uid")
    assert found and all(v == "OperationalError" for v in found.values()), found
    course = hostile_class["course"]
    con = sqlite3.connect(course.root / "gradebook.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM grade WHERE auto_score > 3").fetchone()[0] == 0


def test_no_feedback_file_contains_hidden_tests(hostile_class):
    course = hostile_class["course"]
    files = course.feedback_files()
    assert set(files) == set(hostile_class["expected"])
    # the leaker printed every cell it ran into its notebook: no test cell ran in its kernel
    assert "preprocess_images(train_images)" in outputs(course, "leaks_tests", "preprocess_apply")
    student_cells = [c for c in course.autograded("leaks_tests").cells if not is_test(c)]
    assert "Checks for exercise" not in "".join(str(c.get("outputs")) for c in student_cells)
    assert_no_hidden_tests(course.source, course.release, files.values())
    text = files["always_equal"].read_text()
    assert "Score:" in text and "cm should count" in text  # results and messages still shown


def test_grades_match_plain_nbgrader_autograde(hostile_class, tmp_path):
    """The same two submissions graded by plain `nbgrader autograde` give the same gradebook."""
    kit = hostile_class["course"]
    plain = Course(tmp_path, ASSIGNMENT)
    for student in ("reference", "always_equal"):
        src = kit.root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        plain.submit(student, nbformat.read(src, as_version=4))
    plain.autograde()
    assert plain.scores() == {s: kit.scores()[s] for s in ("reference", "always_equal")}
    exports = {}
    for name, course in (("kit", kit), ("plain", plain)):
        done = course.nbgrader("export", "--to", str(tmp_path / f"{name}.csv"))
        assert done.returncode == 0, done.stderr
        rows = csv.DictReader(open(tmp_path / f"{name}.csv"))
        exports[name] = {
            r["student_id"]: (r["raw_score"], r["max_score"])
            for r in rows
            if r["student_id"] in ("reference", "always_equal")
        }
    assert exports["kit"] == exports["plain"] and len(exports["kit"]) == 2


def test_notebooks_that_never_finish_are_stopped_and_keep_what_they_earned(tmp_path):
    # Two classes graded side by side, each under the limit it tests, so that neither result
    # depends on how long the kernel takes to reach its first graded cell on a busy machine.
    for name in ("stubborn", "slow"):
        (tmp_path / name).mkdir()
    stubborn = Course(tmp_path / "stubborn", ASSIGNMENT)
    reference = stubborn.solved(LAB.answers)
    # ignores the interrupt at the cell limit: the notebook stops there
    stubborn.submit(
        "stubborn",
        with_code(
            reference,
            "preprocess",
            after="""
import time

while True:
    try:
        time.sleep(1)
    except KeyboardInterrupt:
        pass
""",
        ),
    )
    # every cell within the cell limit, the whole past the notebook limit
    late = Course(tmp_path / "slow", ASSIGNMENT)
    slow = with_code(reference, "model", before="import time\n\ntime.sleep(40)\n")
    late.submit("slow", with_code(slow, "compile", before="time.sleep(40)\n"))
    start = time.monotonic()
    runs = [
        stubborn.grade_process("--timeout", "600", "--cell-timeout", "15"),
        late.grade_process("--timeout", "75", "--cell-timeout", "45"),
    ]
    with ThreadPoolExecutor(len(runs)) as pool:  # both pipes drained at once
        ended = list(pool.map(lambda run: run.communicate(timeout=600), runs))
    took = time.monotonic() - start
    for run, (_, err) in zip(runs, ended, strict=True):
        assert run.returncode == 0, err
    assert took < 75 + 120, took
    scores = stubborn.scores()
    assert all(s == 0 for s, _ in scores["stubborn"].values()), scores["stubborn"]
    assert "did not stop when interrupted" in outputs(stubborn, "stubborn", "preprocess")
    assert "not run: the kernel did not stop" in outputs(stubborn, "stubborn", "test_preprocess")
    scores = late.scores()
    assert scores["slow"]["test_preprocess"] == (2, 2)
    assert scores["slow"]["test_confusion"] == (0, 2)
    assert "not run: the notebook ran out of time" in outputs(late, "slow", "test_confusion")


def test_bad_input_gets_a_clear_message(tmp_path):
    def grade(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "course_utils.grade", *args], capture_output=True, text=True
        )

    run = grade(ASSIGNMENT, "--course", str(tmp_path))
    assert run.returncode == 2 and "has no nbgrader_config.py" in run.stderr
    (tmp_path / "nbgrader_config.py").write_text("")
    run = grade(ASSIGNMENT, "--course", str(tmp_path))
    assert (
        run.returncode == 2 and "run `nbgrader generate_assignment lab3_part2` first" in run.stderr
    )
    (tmp_path / "gradebook.db").write_text("not a database")
    run = grade(ASSIGNMENT, "--course", str(tmp_path))
    assert run.returncode == 2 and "is not an nbgrader gradebook" in run.stderr


def test_grades_export_to_canvas_moodle_and_long_csv_with_the_roster(hostile_class, tmp_path):
    from nbgrader.api import Gradebook

    course = hostile_class["course"]
    for name in ("nbgrader_config.py", "gradebook.db"):
        (tmp_path / name).write_bytes((course.root / name).read_bytes())
    students = sorted(hostile_class["expected"])
    unlisted = students.pop()  # graded, but missing from the roster
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "first_name", "last_name", "email", "lms_user_id"])
        for number, student in enumerate([*students, "absent"]):
            writer.writerow(
                [student, "Ada", student.title(), f"{student}@uni.example", 1000 + number]
            )
    done = nbgrader(["db", "student", "import", str(roster)], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:  # a grade from the formgrader
        grade = gb.find_grade("question", ASSIGNMENT, ASSIGNMENT, "reference")
        grade.manual_score = 1.5
        gb.db.commit()
        totals = {s: gb.find_submission(ASSIGNMENT, s).score for s in [*students, unlisted]}
    assert totals["reference"] == 14 + 1.5

    def export(name: str) -> tuple[list[list[str]], str]:
        plugin = f"course_utils.grading.export.{name}Export"
        done = nbgrader(["export", "--exporter", plugin, "--to", f"{name}.csv"], tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return list(csv.reader(open(tmp_path / f"{name}.csv"))), done.stdout + done.stderr

    canvas, log = export("Canvas")
    assert f"{unlisted} has no email or LMS id" in log
    assert f"absent has no submission of {ASSIGNMENT}" in log
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == 16
    rows = {r[2]: r for r in canvas[2:]}
    assert set(rows) == {*students, unlisted, "absent", "broken"}  # broken: never graded
    assert rows["reference"][1] == str(1000 + students.index("reference"))
    assert rows["reference"][3] == "reference@uni.example"
    assert all(float(rows[s][5]) == totals[s] for s in totals)
    assert rows["absent"][5] == ""

    moodle, _ = export("Moodle")
    assert moodle[0] == ["First name", "Last name", "ID number", "Email address", ASSIGNMENT]
    assert {r[2]: float(r[4]) for r in moodle[1:] if r[4]} == totals

    long, _ = export("Long")
    assert long[0] == ["student", "assignment", "notebook", "test", "score", "max_score"]
    scores = {(r[0], r[3]): (r[4], r[5]) for r in long[1:]}
    assert scores[("reference", "question")] == ("1.5", "2")
    assert scores[("reference", "test_model")] == ("3", "3")
    assert sum(float(s) for (who, _), (s, _) in scores.items() if who == "reference") == 15.5
    assert scores[("absent", "")] == ("", "")


def test_a_regrade_says_and_saves_whose_score_changed(hostile_class):
    course = hostile_class["course"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:  # as if a test was wrong
        grade = gb.find_grade("test_preprocess", ASSIGNMENT, ASSIGNMENT, "reads_solutions")
        assert grade.auto_score == 0
        grade.auto_score = 2
        gb.db.commit()
    done = course.grade("--force", "--student", "reads_solutions", "--memory", MEMORY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 score(s) changed" in done.stdout
    assert "  reads_solutions: 2 -> 0" in done.stdout
    rows = list(csv.reader(open(course.root / "grades" / f"{ASSIGNMENT}-changes.csv")))
    assert rows[0] == ["student_id", "old_score", "new_score", "change"]
    assert rows[1:] == [["reads_solutions", "2", "0", "-2"]]


def test_the_class_report_shows_scores_tests_and_failures_but_no_hidden_test(hostile_class):
    from playwright.sync_api import sync_playwright

    from support.paths import ROOT

    course = hostile_class["course"]
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.grading.report", ASSIGNMENT, "--course", course.root],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = course.root / "grades" / f"{ASSIGNMENT}-report.html"
    page = report.read_text()
    assert page.count('src="data:image/png;base64,') == 2  # self-contained: the figures inside
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "broken" in page and "not a notebook" in page.lower() or "broken</td>" in page
    rows = {
        r["test"]: r
        for r in csv.DictReader(open(course.root / "grades" / f"{ASSIGNMENT}-tests.csv"))
    }
    assert set(rows) == set(LAB.tests)
    submissions = len(hostile_class["scores"])
    for test, row in rows.items():
        lost = sum(1 for lost in hostile_class["expected"].values() if test in lost)
        assert int(row["submissions"]) == submissions
        assert abs(float(row["pass_rate"]) - (submissions - lost) / submissions) < 1e-3, test
    assert "AssertionError" in page  # the failure messages, as feedback shows them
    assert_no_hidden_tests(course.source, course.release, [report])

    shot = ROOT / "test-artifacts" / "class-report.png"
    shot.parent.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        try:
            tab = browser.new_page(viewport={"width": 1000, "height": 1400})
            tab.goto(report.as_uri())
            assert tab.locator("img").count() == 2
            assert all(tab.evaluate(f"document.images[{i}].naturalWidth") > 100 for i in range(2))
            tab.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
