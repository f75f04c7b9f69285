"""The last cell of each lab notebook: check the hand-in, then say which file to upload.

`check_hand_in` reads the notebook as it is saved (in JupyterLab, the file the kernel's session
names; in Google Colab, the notebook Colab holds), and says:

* whether it is saved: the last cell run in this kernel must be in the saved file;
* which visible checks pass, fail or have not been run, by the saved outputs;
* the one file to upload to the course's LMS. In Colab, where the notebook lives in Drive, it
  also downloads it under the name the course's collector expects (``ASSIGNMENT.ipynb``).

It never stops a hand-in, sends nothing anywhere, and does nothing while the notebook is being
graded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from course_utils.settings import Launcher

#: set while a notebook is graded: by nbgrader, and by the course's grader in its sandbox
GRADING = ("NBGRADER_EXECUTION", Launcher.GRADING)


def _colab_notebook() -> dict | None:
    """The notebook Colab holds now (None outside Colab, or if Colab does not answer)."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import _message

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    except Exception as failure:  # noqa: BLE001 (Colab's private channel: anything may fail)
        print(f"(Colab did not hand over the notebook: {type(failure).__name__})")
        return None
    return reply.get("ipynb") if isinstance(reply, dict) else None


def _saved_notebook(assignment: str) -> tuple[dict | None, Path | None]:
    """The notebook as saved, and its file (JupyterLab names it to the kernel)."""
    candidates = []
    if os.environ.get("JPY_SESSION_NAME"):
        candidates.append(Path(os.environ["JPY_SESSION_NAME"]))
    candidates.append(Path.cwd() / f"{assignment}.ipynb")
    for path in candidates:
        if path.suffix == ".ipynb" and path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8")), path.resolve()
            except (OSError, ValueError):
                continue
    return None, None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def unsaved_cells(notebook: dict, ran: list[str]) -> list[str]:
    """The last cell run in this kernel before this check, when its code is not in the saved
    notebook (its first line): then the notebook was changed, run and not saved since."""
    saved = {_source(c).strip() for c in notebook.get("cells", []) if c.get("cell_type") == "code"}
    earlier = [code.strip() for code in ran if code.strip() and "check_hand_in(" not in code]
    if earlier and earlier[-1] not in saved:
        return [earlier[-1].splitlines()[0][:60]]
    return []


def check_results(notebook: dict) -> dict[str, str]:
    """Each visible check of the saved notebook: "passed", "not run" or its error."""
    results = {}
    for cell in notebook.get("cells", []):
        info = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not info.get("grade"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            results[info["grade_id"]] = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
        elif cell.get("execution_count") is None:
            results[info["grade_id"]] = "not run"
        else:
            results[info["grade_id"]] = "passed"
    return results


def _download(notebook: dict, assignment: str) -> str:
    """In Colab: save `notebook` as ``ASSIGNMENT.ipynb`` and have the browser download it."""
    from google.colab import files

    target = Path("/content" if Path("/content").is_dir() else ".") / f"{assignment}.ipynb"
    target.write_text(json.dumps(notebook), encoding="utf-8")
    files.download(str(target))
    return str(target)


def check_hand_in(assignment: str, history: list[str] | None = None) -> dict[str, Any]:
    """Check the hand-in of `assignment` and print what to upload; what was found, as a dict.

    Args:
        assignment: the assignment's name (the file to upload is ``ASSIGNMENT.ipynb``).
        history: the code of the cells run in this kernel (default: IPython's ``In``).
    """
    if any(os.environ.get(name) for name in GRADING):
        return {"grading": True}
    if history is None:  # the cells as typed, before IPython transforms them
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
        manager = getattr(shell, "history_manager", None)
        history = list(getattr(manager, "input_hist_raw", []))
    colab = _colab_notebook()
    notebook, path = (colab, None) if colab is not None else _saved_notebook(assignment)
    found: dict[str, Any] = {"colab": colab is not None, "path": str(path) if path else None}
    if notebook is None:
        print(f"Save this notebook (Ctrl+S), then upload {assignment}.ipynb to the course's LMS.")
        return found
    found["unsaved"] = unsaved_cells(notebook, history) if colab is None else []
    found["checks"] = check_results(notebook)
    if found["unsaved"]:
        print("Not saved yet: save with Ctrl+S (File > Save), then run this cell again.")
        print(f"  the last cell you ran is not in the saved file: {found['unsaved'][0]}")
    failing = {k: v for k, v in found["checks"].items() if v != "passed"}
    if failing:
        print("Visible checks that do not pass (you may still hand in):")
        for grade_id, why in failing.items():
            print(f"  {grade_id}: {why}")
    elif found["checks"]:
        print(f"All {len(found['checks'])} visible checks pass.")
    if colab is not None:
        found["downloaded"] = _download(notebook, assignment)
        print(f"Downloading {assignment}.ipynb: upload that file to the course's LMS.")
    else:
        where = path or Path.cwd() / f"{assignment}.ipynb"
        modified = time.strftime("%H:%M", time.localtime(where.stat().st_mtime))
        print(f"Upload this file to the course's LMS: {where} (saved at {modified}).")
    return found
