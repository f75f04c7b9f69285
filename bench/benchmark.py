"""Benchmark: the kit against its baselines, in one run, every figure beside its target.

    python bench/benchmark.py --original ORIGINAL.txt      # every part (hours: the class of 200)
    python bench/benchmark.py --part grading                # one part
    python bench/benchmark.py --part overhead judge class   # these parts, in one run

Part "grading": a lab class and a quiz class graded by plain ``nbgrader autograde``, one
submission after another at the notebooks' own training length, and by the kit's grader
(``course_utils.grade``: 2 workers, isolation and feedback included) at its grading length
(``--epochs 1``, docs/calibration.md). Each class holds the reference, the untouched release, a
second untouched copy (its own timestamp) and submissions with one mistake each. Same scores in
both gradebooks, or the benchmark stops. Prints per submission and per class wall time, CPU
time and peak memory (largest process, the kernel included).

Part "scaling": one lab class of 4 different submissions (1 epoch) graded with 1 worker, 2
workers, and 2 Dask workers of 1 core each (a LocalCluster): submissions per minute.

Part "judge": the kit's grader with the judge (test cells in a kernel of their own) against
without it (``--no-judge``: test cells in the student's kernel), on the same lab and quiz
classes, one worker, at the grading length: wall and CPU time per submission, each side's
median over ``--rounds`` rounds (4) whose order alternates (off first, then on first): an even
number of rounds grades each order as often, so that what a class pays for coming first or
second weighs on both sides alike.

Part "sandbox": the same, with every kernel in the sandbox (namespaces, control group: the
grader's default) against without it (``--no-isolation``).

Part "lab": the lab notebook (the student version with the solutions filled in) against the
code of the notebook the lab is adapted from (``--original``: a text file with its code cells
after ``In [ ]:`` markers), run as written. Both run end to end as notebooks in a fresh kernel,
at their own 10 epochs, once per seed (a first cell sets Keras's seed); wall time, CPU time,
peak memory and test accuracy.

Parts "overhead" and "class" (bench/overhead_bench.py): the fixed cost of grading the untouched
release, alone and in a class; a class of ``--class-size`` distinct submissions (200), locally
and on a two-process Dask cluster with TLS, against the notebooks' own time divided by the
cores.

Part "service": the grading service (bench/service_bench.py): from ``nbgrader submit`` to the
feedback in the exchange, with real users (as root), alone and for a class at once.

Part "quiz": the solved quiz notebook as a student runs it (3 epochs per network); the time of
its filter experiment cell (``--xla`` also runs it compiled with XLA, as it was before).

At the end, a table of every ratio beside its target. The machine should be otherwise idle;
figures vary by a few percent between runs.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' `support`

from course_utils.environment import tool_env  # noqa: E402
from support import LAB, QUIZ, Course, build_class  # noqa: E402

GRADING_EPOCHS = 1
CLASSES = {"lab3_part2": (LAB, ["wrong_order", "transposed_confusion"]),
           "lab3_quiz": (QUIZ, ["softmax_unshifted"])}  # fmt: skip
SCALING_MISTAKES = ["wrong_order", "transposed_confusion", "no_validation_split"]
#: The lab's 10-epoch accuracy over 10 seeds (docs/calibration.md): its spread, in points.
CALIBRATION_10 = (0.8762, 0.8894)
#: the judge's cost: at most this much of a submission's wall and CPU time without it
JUDGE_TARGET = 1.05
TARGETS: list[tuple[str, str, str, bool]] = []  # (what, measured, target, met)


def target(what: str, value: float, limit: float, unit: str = "x") -> None:
    """Record a figure and its upper bound for the closing table."""
    shown = f"{value:.2f}{unit}" if unit == "x" else f"{value:.1f} {unit}"
    bound = f"<= {limit:g}{unit}" if unit == "x" else f"<= {limit:g} {unit}"
    TARGETS.append((what, shown, bound, value <= limit))


def measured(command: list[str], cwd: Path, env: dict) -> dict:
    """Run `command`; wall s, CPU s and peak RSS (MiB, largest process) from wait4."""
    start = time.monotonic()
    with open(cwd / "bench.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}); see {cwd / 'bench.log'}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024}


def plain_env(**extra: str) -> dict[str, str]:
    """This environment's tools first on PATH, the notebooks' own training length."""
    env = tool_env(TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env.pop("LAB_EPOCHS", None)
    return env


def row(name: str, values: list[str], widths: list[int]) -> str:
    return name.ljust(widths[0]) + "".join(
        v.rjust(w) for v, w in zip(values, widths[1:], strict=True)
    )


def ratio_row(name: str, plain: dict, kit: dict, widths: list[int]) -> str:
    cells = []
    for key, unit in (("wall", "s"), ("cpu", "s"), ("peak", "MiB")):
        p, k = plain[key], kit[key]
        shown = (f"{p:.1f} s", f"{k:.1f} s") if unit == "s" else (f"{p:.0f} MiB", f"{k:.0f} MiB")
        cells += [*shown, f"{k / p:.2f}" if p else "-"]
    return row(name, cells, widths)


# --------------------------------------------------------------------------- grading


def make_class(folder: Path, assignment: str, mistakes: list[str]) -> Course:
    """A course with the reference, two untouched copies and one student per mistake."""
    import nbformat

    folder.mkdir(parents=True)
    course = Course(folder, assignment)
    spec = CLASSES.get(assignment, (LAB, []))[0]
    build_class(course, spec, mistakes=mistakes)
    course.submit("untouched_copy", nbformat.read(course.release, as_version=4))
    stamp = course.root / "submitted" / "untouched_copy" / assignment / "timestamp.txt"
    stamp.write_text("2026-11-20 09:00:00.000000 UTC\n")
    return course


def grade_assignment(assignment: str, work: Path) -> None:
    from course_utils.grading.coordinator import grade_class

    mistakes = CLASSES[assignment][1]
    plain = make_class(work / f"plain-{assignment}", assignment, mistakes)
    kit = make_class(work / f"kit-{assignment}", assignment, mistakes)
    students = sorted(p.parent.name for p in (plain.root / "submitted").glob(f"*/{assignment}"))
    print(f"\nGrading {len(students)} submissions of {assignment}", flush=True)

    env = plain_env()
    plain_rows, plain_start = {}, time.monotonic()
    for student in students:
        command = ["nbgrader", "autograde", assignment, "--student", student]
        plain_rows[student] = measured([sys.executable, "-m", *command], plain.root, env)
        print(f"  plain nbgrader: {student} {plain_rows[student]['wall']:.0f} s", flush=True)
    plain_wall = time.monotonic() - plain_start

    report = grade_class(
        kit.root,
        assignment,
        workers=2,
        epochs=GRADING_EPOCHS,
        progress=False,
        log=lambda line: print("  kit:", line, flush=True),
    )
    if report.failed:
        raise SystemExit(f"the kit failed to grade: {report.failed}")
    if kit.scores() != plain.scores():
        raise SystemExit("the kit and plain nbgrader recorded different scores")
    kit_rows = {
        s: {"wall": o.wall, "cpu": o.cpu, "peak": o.peak_rss / 2**20}
        for s, o in report.outcomes.items()
    }
    widths = [30, 11, 11, 7, 11, 11, 7, 11, 11, 7]
    heads = ["wall plain", "wall kit", "ratio", "CPU plain", "CPU kit", "ratio"]
    print("\n" + row("submission", [*heads, "peak plain", "peak kit", "ratio"], widths))
    for s in students:
        note = f" (= {report.copies[s]})" if s in report.copies else ""
        print(ratio_row(s + note, plain_rows[s], kit_rows[s], widths))
    n = len(students)
    totals = {
        side: {
            "wall": wall / n,
            "cpu": sum(r["cpu"] for r in rows.values()) / n,
            "peak": max(r["peak"] for r in rows.values()),
        }
        for side, rows, wall in (("plain", plain_rows, plain_wall), ("kit", kit_rows, report.wall))
    }
    print(ratio_row("class, per submission", totals["plain"], totals["kit"], widths))
    print(
        f"Whole class: plain nbgrader {plain_wall:.0f} s (the notebook's own length), kit "
        f"{report.wall:.0f} s with 2 workers at --epochs {GRADING_EPOCHS}, feedback included. "
        "Same scores in both gradebooks."
    )
    target(f"{assignment}: kit / plain nbgrader, wall per submission",
           report.wall / plain_wall, 0.35)  # fmt: skip
    if assignment == "lab3_part2":
        from overhead_bench import FIXED_TARGET_S, own_seconds

        untouched = report.outcomes["untouched"]
        fixed = untouched.wall - sum(own_seconds(kit, "untouched", untouched.log))
        target("untouched release, fixed cost, in this class", fixed, FIXED_TARGET_S, "s")
        copy = report.outcomes["untouched_copy"]
        print(f"untouched_copy: copied from {copy.copy_of} (graded once), no kernel started")


def grading(work: Path) -> None:
    for assignment in CLASSES:
        grade_assignment(assignment, work)


def scaling(work: Path) -> None:
    from course_utils.grading.coordinator import grade_class

    print(f"\nThroughput: lab class of 4 submissions, --epochs {GRADING_EPOCHS}", flush=True)
    widths = [30, 10, 14, 16, 10]
    lines = [row("", ["wall", "submissions", "per minute", "speed-up"], widths)]
    first = None
    runs = (
        ("1 worker (2 threads)", 1, None),
        ("2 workers (1 thread each)", 2, None),
        ("Dask, 2 workers x 1 core", 2, "local"),
    )
    for number, (name, workers, dask) in enumerate(runs):
        (work / str(number)).mkdir()
        course = Course(work / str(number), "lab3_part2")
        build_class(course, LAB, mistakes=SCALING_MISTAKES, untouched=False)
        report = grade_class(
            course.root,
            "lab3_part2",
            workers=workers,
            dask=dask,
            epochs=GRADING_EPOCHS,
            progress=False,
            log=lambda line: None,
        )
        if report.failed:
            raise SystemExit(f"the kit failed to grade: {report.failed}")
        rate = 60 * len(report.graded) / report.wall
        first = first or rate
        values = [f"{report.wall:.0f} s", str(len(report.graded)), f"{rate:.2f}/min"]
        lines.append(row(name, [*values, f"{rate / first:.2f}x"], widths))
        print(f"  {name}: {report.wall:.0f} s", flush=True)
    print("\n" + "\n".join(lines))


def judge(work: Path, rounds: int) -> None:
    from course_utils.grading.jobs import Limits

    compare(work, "the judge", {"off": Limits(judge=False), "on": Limits(judge=True)}, rounds)


def sandbox(work: Path, rounds: int) -> None:
    from course_utils.grading.jobs import Limits

    limits = {"off": Limits(isolate=False), "on": Limits(isolate=True)}
    compare(work, "the sandbox", limits, rounds)


def compare(work: Path, what: str, limits: dict, rounds: int) -> None:
    """The same lab and quiz classes graded with `what` off and on, `rounds` times, the order
    alternating (off first, then on first): per submission, each side's median over the rounds
    (one class's time moves by up to a tenth between runs on a shared machine)."""
    from course_utils.grading.coordinator import grade_class

    print(f"\n{what.capitalize()}: classes graded without and with it, 1 worker, "
          f"--epochs {GRADING_EPOCHS}, {rounds} rounds")  # fmt: skip
    widths = [30, 11, 11, 7, 11, 11, 7, 11, 11, 7]
    heads = ["wall off", "wall on", "ratio", "CPU off", "CPU on", "ratio"]
    lines = [row("per submission (median)", [*heads, "peak off", "peak on", "ratio"], widths)]
    judges = ["Peak memory with the judge on, largest submission (each has its own budget):"]
    rounds_seen = ["Each round's ratio, on / off (wall, CPU):"]
    for assignment, spec, mistakes in (
        ("lab3_part2", LAB, SCALING_MISTAKES[:1]),
        ("lab3_quiz", QUIZ, []),
    ):
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for turn in range(rounds):
            for side in ("off", "on") if turn % 2 == 0 else ("on", "off"):
                (work / f"{assignment}-{side}-{turn}").mkdir()
                course = Course(work / f"{assignment}-{side}-{turn}", assignment)
                build_class(course, spec, mistakes=mistakes, untouched=False)
                report = grade_class(
                    course.root,
                    assignment,
                    workers=1,
                    limits=limits[side],
                    epochs=GRADING_EPOCHS,
                    progress=False,
                    log=lambda line: None,
                )
                if report.failed:
                    raise SystemExit(f"the kit failed to grade: {report.failed}")
                outcomes = list(report.outcomes.values())
                runs[side].append({
                    "wall": statistics.mean(o.wall for o in outcomes),
                    "cpu": statistics.mean(o.cpu for o in outcomes),
                    "peak": max(o.peak_rss for o in outcomes) / 2**20,
                    "judge_peak": max(o.judge_peak for o in outcomes) / 2**20,
                    "scores": course.scores(),
                })  # fmt: skip
                print(f"  {assignment}, {what} {side}, round {turn + 1}: {report.wall:.0f} s",
                      flush=True)  # fmt: skip
        if any(run["scores"] != runs["off"][0]["scores"] for run in runs["off"] + runs["on"]):
            raise SystemExit(f"{assignment}: {what} changed an honest submission's score")
        sides = {
            side: {
                **{k: statistics.median(r[k] for r in runs[side]) for k in ("wall", "cpu")},
                **{k: max(r[k] for r in runs[side]) for k in ("peak", "judge_peak")},
            }
            for side in runs
        }
        pairs = zip(runs["off"], runs["on"], strict=True)
        rounds_seen.append(f"  {assignment}: " + "; ".join(
            f"{on['wall'] / off['wall']:.2f}, {on['cpu'] / off['cpu']:.2f}" for off, on in pairs
        ))  # fmt: skip
        judged = sides["on"] if limits["on"].judge else sides["off"]
        judges.append(
            f"  {assignment}: kernel {judged['peak']:.0f} MiB, judge {judged['judge_peak']:.0f} "
            "MiB (0: not measured, without a control group)"
        )
        lines.append(
            ratio_row(f"{assignment} ({len(mistakes) + 1})", sides["off"], sides["on"], widths)
        )
        bound = JUDGE_TARGET if what == "the judge" else 1.10
        for key in ("wall", "cpu"):
            target(f"{assignment}: with / without {what}, {key} per submission",
                   sides["on"][key] / sides["off"][key], bound)  # fmt: skip
    print("\n" + "\n".join(lines) + f"\nSame scores with and without {what}, every round.")
    print("\n".join(rounds_seen + judges))
    if what == "the judge":
        from course_utils.grading import judge_servers

        print("The kernel servers' own CPU, once per grading process (their imports, the "
              "student's and the judge's; as root): "
              f"{judge_servers.cpu_seconds():.1f} s")  # fmt: skip


# --------------------------------------------------------------------------- the lab

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
resources = {"metadata": {"path": sys.argv[2]}}
NotebookClient(nb, timeout=3600, kernel_name="python3", resources=resources).execute()
nbformat.write(nb, sys.argv[1])
"""

SEED_CELL = "import keras\nkeras.utils.set_random_seed({seed})"


def original_cells(path: Path) -> list[str]:
    """The code cells of a notebook kept as text: the lines after each ``In [...]:`` marker,
    up to the next marker or ``##`` heading, without the prose that follows the code."""
    cells, current = [], None
    for line in path.read_text().splitlines() + ["## end"]:
        if line.startswith("In [") and line.rstrip().endswith("]:"):
            current = []
            cells.append(current)
        elif line.startswith("##"):
            current = None
        elif current is not None:
            current.append(line)
    code = []
    for lines in cells:
        while lines:
            try:
                ast.parse("\n".join(lines))
                break
            except SyntaxError:
                lines.pop()
        if "\n".join(lines).strip():
            code.append("\n".join(lines).strip())
    if not code:
        raise SystemExit(f"no code cells found in {path}")
    return code


def notebook(cells: list[str], path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(src) for src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


def lab_cells(folder: Path) -> list[str]:
    """The code cells of the student version of the lab, with the solutions filled in."""
    (folder / "course").mkdir()
    course = Course(folder / "course", "lab3_part2")
    return [c.source for c in course.solved(LAB.answers).cells if c.cell_type == "code"]


def accuracy_of(path: Path) -> float:
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.lower().startswith("test accuracy:"):
                    value = line.split(":")[1].strip()
                    return float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    raise SystemExit(f"no test accuracy printed in {path}")


def lab(original: Path | None, seeds: int, work: Path) -> None:
    from course_utils.data import FILES, locate

    if original is None:
        print("\nPart lab skipped: give --original (the adapted notebook's code)", flush=True)
        return
    keras_home = work / "keras"
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True, exist_ok=True)
    for spec in FILES:  # the original reads Keras's cache; the data is already on this machine
        shutil.copy(locate() / spec.filename, cache / spec.filename)
    env = plain_env(KERAS_HOME=str(keras_home))
    sides = {"original": original_cells(original), "lab notebook": lab_cells(work)}
    print(f"\nThe lab end to end (10 epochs) against the original, {seeds} seeds", flush=True)
    results: dict[str, list[dict]] = {name: [] for name in sides}
    for seed in range(seeds):
        order = list(sides) if seed % 2 == 0 else list(reversed(sides))
        for name in order:
            path = notebook([SEED_CELL.format(seed=seed), *sides[name]], work / f"{seed}.ipynb")
            result = measured([sys.executable, "-c", RUN_NOTEBOOK, str(path), str(work)], work, env)
            result["accuracy"] = accuracy_of(path)
            results[name].append(result)
            print(
                f"  seed {seed}, {name}: {result['wall']:.0f} s, {result['peak']:.0f} MiB, "
                f"accuracy {result['accuracy']:.4f}",
                flush=True,
            )
    o, k = ({key: statistics.mean(r[key] for r in results[n]) for key in ("wall", "cpu", "peak")}
            for n in sides)  # fmt: skip
    widths = [18, 14, 14, 10]
    print("\n" + row("mean over seeds", ["original", "lab notebook", "ratio"], widths))
    for key, unit in (("wall", "s"), ("cpu", "s"), ("peak", "MiB")):
        fmt = "{:.1f} s" if unit == "s" else "{:.0f} MiB"
        values = [fmt.format(o[key]), fmt.format(k[key]), f"{k[key] / o[key]:.2f}"]
        print(row({"wall": "wall time", "cpu": "CPU time", "peak": "peak memory"}[key], values,
                  widths))  # fmt: skip
    accuracy = {n: [r["accuracy"] for r in results[n]] for n in sides}
    for name, values in accuracy.items():
        print(f"test accuracy, {name}: " + " ".join(f"{v:.4f}" for v in values)
              + f" (mean {statistics.mean(values):.4f})")  # fmt: skip
    gap = statistics.mean(accuracy["lab notebook"]) - statistics.mean(accuracy["original"])
    spread = CALIBRATION_10[1] - CALIBRATION_10[0]
    print(
        f"difference of means {100 * gap:+.2f} points; the 10-epoch spread over 10 seeds in "
        f"docs/calibration.md is {100 * spread:.2f} points "
        f"({CALIBRATION_10[0]}-{CALIBRATION_10[1]})"
    )
    target("lab notebook / original, wall", k["wall"] / o["wall"], 0.45)
    target("lab notebook / original, peak memory", k["peak"] / o["peak"], 0.75)
    TARGETS.append(("lab - original, mean test accuracy", f"{100 * gap:+.2f} pt",
                    f"within +-{100 * spread:.2f} pt", abs(gap) <= spread))  # fmt: skip


# --------------------------------------------------------------------------- the quiz

QUIZ_TARGET_S = 300


def cell_seconds(path: Path, grade_id: str) -> float:
    """How long cell `grade_id` of an executed notebook ran, from its execution metadata."""
    import nbformat

    from support.notebooks import cell, seconds_run

    seconds = seconds_run(cell(nbformat.read(path, as_version=4), grade_id))
    if seconds is None:
        raise SystemExit(f"cell {grade_id} of {path} has no execution record")
    return seconds


def quiz(work: Path, xla: bool) -> None:
    import nbformat

    from support import mutate

    (work / "course").mkdir()
    course = Course(work / "course", "lab3_quiz")
    runs = {"as shipped": course.solved(QUIZ.answers)}
    if xla:
        runs["with XLA (before)"] = mutate(
            runs["as shipped"],
            "sweep",
            "compile_model(build_model(num_filters), jit_compile=False)",
            "compile_model(build_model(num_filters))",
        )
    env = plain_env(NBGRADER_EXECUTION="validate")  # the grader's seed; the quiz's own epochs
    print("\nThe quiz's filter experiment (4 networks, 3 epochs each)", flush=True)
    for name, nb in runs.items():
        path = work / f"quiz-{name.split()[0]}.ipynb"
        nbformat.write(nb, path)
        whole = measured([sys.executable, "-c", RUN_NOTEBOOK, str(path), str(work)], work, env)
        seconds = cell_seconds(path, "sweep")
        print(f"  {name}: experiment {seconds:.0f} s, whole notebook {whole['wall']:.0f} s")
        if name == "as shipped":
            target("quiz experiment cell, as shipped", seconds, QUIZ_TARGET_S, "s")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = [
        *("grading", "overhead", "scaling", "judge", "sandbox"),
        *("lab", "quiz", "service", "class"),
    ]
    parser.add_argument(
        "--part", choices=[*parts, "all"], nargs="+", default=["all"], help="parts, in this order"
    )
    parser.add_argument("--original", type=Path, help="the adapted notebook's code (part lab)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for part lab (default 5)")
    parser.add_argument("--xla", action="store_true", help="part quiz: also with XLA")
    parser.add_argument(
        "--rounds", type=int, default=4, help="parts judge and sandbox: rounds (default 4)"
    )
    parser.add_argument(
        "--class-size", type=int, default=200, help="submissions in part class (default 200)"
    )
    parser.add_argument(
        "--class-on",
        choices=["both", "local", "dask"],
        default="both",
        help="part class: a worker per core, the Dask cluster, or both one after the other",
    )
    parser.add_argument(
        "--class-workers", type=int, help="part class: local workers (default: one per core)"
    )
    args = parser.parse_args()
    print(
        f"{datetime.date.today()}, {platform.node()}: {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="course-kit-bench-") as tmp:
        work = Path(tmp)
        for part in parts if "all" in args.part else args.part:
            (work / part).mkdir()
            if part == "grading":
                grading(work / part)
            elif part == "scaling":
                scaling(work / part)
            elif part == "judge":
                judge(work / part, args.rounds)
            elif part == "sandbox":
                sandbox(work / part, args.rounds)
            elif part == "lab":
                lab(args.original, args.seeds, work / part)
            elif part in ("overhead", "class"):
                from overhead_bench import big_class, overhead

                if part == "overhead":
                    overhead(work / part, row, target)
                else:
                    big_class(
                        work / part, args.class_size, args.class_on, args.class_workers, row, target
                    )
            elif part == "service":
                from service_bench import service

                service(work / part, row, target)
            else:
                quiz(work / part, args.xla)
    widths = [52, 14, 18, 6]
    print("\n" + row("every ratio beside its target", ["measured", "target", "met"], widths))
    for what, value, bound, met in TARGETS:
        print(row(what, [value, bound, "yes" if met else "no"], widths))


if __name__ == "__main__":
    main()
