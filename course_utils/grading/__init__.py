"""Grading a class with nbgrader: instructors' tooling, apart from the students' helpers.

The students' modules (`course_utils.data`, `model`, `plots`) import nothing from here. This
package needs the ``course`` extra (``pip install "course-utils[course]"``); importing it loads
nothing heavy, since the kernel launcher (`sandbox`) runs at every kernel start.

Where to look, concern by concern:

==========================================  ==============================================
concern                                     module
==========================================  ==============================================
the command line, ``make grade``            ``cli`` (``python -m course_utils.grade``)
the flags of how a submission is graded     ``flags`` (shared with the service)
feedback on submit: the grading service     ``service``, ``service_grading``, ``service_command``
the exchange's inbound; attempts; record    ``inbound``; ``attempts``; ``service_db``
grading a class: select, plan, run, install ``coordinator`` (`grade_class`)
which submissions, the assignment's files    ``submissions``
identical submissions graded once           ``copies`` (keys, copied results)
results kept for submissions seen before    ``cache`` (`Results`)
limits, the job sent to a worker, outcome   ``jobs`` (`Limits`, `Job`, `Outcome`)
one submission in a scratch nbgrader course ``worker`` (`grade_submission`, `kit_config`)
autograde and feedback in one process       ``nbrun``
where jobs run: threads here, or Dask       ``executors`` (`Executor`, Local/Dask)
running a command under a time limit        ``process`` (`Supervisor`, `ProcessResult`)
how a kernel is limited and started         ``sandbox`` (the launcher, its `Settings`)
memory of a sandbox without control group  ``watcher``
each kernel's folders, student and judge    ``kernel_folders``
the sandbox's namespaces and mounts         ``namespaces`` (bubblewrap's command)
one memory and process budget               ``cgroups`` (control groups)
test cells apart from student code          ``judge`` (runs in the judge's kernel)
kernels forked with Keras imported (root)   ``judge_server``; its sandbox side: ``judge_start``
the kernel servers of a grading process     ``judge_servers`` (one per role and environment)
the bridge: requests; answers as files     ``bridge``; ``wire``; notebook's side: ``bridge_kernel``
what crosses the bridge, and how            ``values`` (data, models, stubs, opaque values)
bounds on models from the notebook          ``configs`` (allowed classes, strings, sizes)
rebuilding a model within its bounds        ``rebuild`` (no memory before the count)
a rebuilt model given again, if unchanged   ``reuse`` (the judge's; one submission)
users and course permissions (as root)      ``isolation``
how scores reach the gradebook; the CSV     ``gradebook``
what a regrade changed                      ``changes``
the late policy                             ``late`` (`PercentPerDay`)
the class report: HTML, per-test CSV        ``report``
similar submissions                         ``similarity`` (copydetect)
grades for Canvas, Moodle, a long CSV       ``export`` (nbgrader export plugins)
an LMS's file names (zip_collect plugins)   ``lms``
an LMS download into submitted/            ``collect``; its roster: ``worksheet``
feedback as the LMS's upload zip           ``handback``; commands: ``lms_commands``
skipping what is graded and unchanged       ``resume``
Ctrl-C held back while results install      ``signals``
folders as bytes, digests                   ``archive``
solution and hidden-test regions            ``regions``
what nbgrader runs: execute, judge, hide    ``preprocessors/``
==========================================  ==============================================
"""

from __future__ import annotations

import importlib.util
import sys

#: Optional modules the grader's processes do without. jsonschema (under nbformat) imports
#: ``rfc3987_syntax``, when installed (jupyter-events asks for it), to check the "iri" formats:
#: it builds a parser at import, over a second of every grading process's start, and there is
#: an nbgrader process per submission. No schema the grader validates (nbformat's) names those
#: formats; `tests/unit/test_grading_package.py` checks it.
SKIPPED_IMPORTS = ("rfc3987_syntax",)
for _name in SKIPPED_IMPORTS:
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]  # None: "cannot import"

COURSE_EXTRA = ("nbgrader", "nbclient", "nbconvert", "psutil", "tqdm")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_course_extra() -> str | None:
    """None when the ``course`` extra is installed, else a message saying how to install it."""
    missing = [name for name in COURSE_EXTRA if not _installed(name)]
    if not missing:
        return None
    return (
        f"grading needs the kit's course extra ({', '.join(missing)} missing): "
        'pip install "course-utils[course]"'
    )
