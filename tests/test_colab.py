"""The Colab path: badges that match their files, and a first cell that installs the kit from
the students' repository only where it is missing, without touching the TensorFlow already
there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.assignments import colab_badge, install_spec, kit_config
from course_utils.publishing import publish
from support import ASSIGNMENTS, ROOT, cell

CONFIG = kit_config()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_badge_points_at_the_released_file(assignment):
    nb = nbformat.read(ROOT / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    first_line = nb.cells[0].source.splitlines()[0]
    assert first_line == colab_badge(assignment, CONFIG)
    url = re.search(r"\]\((https://colab[^)]+)\)$", first_line).group(1)
    assert url.endswith(f"/blob/{CONFIG['release_tag']}/release/{assignment}/{assignment}.ipynb")
    assert (ROOT / url.split(f"/blob/{CONFIG['release_tag']}/")[1]).is_file()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_first_code_cell_installs_the_pinned_kit_only_where_missing(assignment):
    nb = nbformat.read(ROOT / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.metadata["nbgrader"]["grade_id"] == "install"
    assert 'if importlib.util.find_spec("course_utils") is None:' in first.source
    assert f"%pip install --quiet {install_spec(CONFIG)}" in first.source
    assert "tensorflow" not in first.source.split("%pip", 1)[1].lower()


def _site_without_the_kit(tmp_path: Path) -> Path:
    """This environment's packages, less the kit: what Colab has before the first cell."""
    view = tmp_path / "preinstalled"
    view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not re.match(r"(__editable__|course_utils)", entry.name) and entry.suffix != ".pth":
            (view / entry.name).symlink_to(entry)
    return view


def _published(tmp_path: Path, name: str, assignments: list[str], closed=frozenset()) -> Path:
    """The students' repository (`make publish`) at the release tag, as a local git repository
    instead of GitHub."""
    dest = tmp_path / name
    publish(dest, assignments, frozenset(closed))
    git = ["git", "-C", str(dest), "-c", "user.name=Course", "-c", "user.email=course@example.org"]
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Release"], check=True)
    subprocess.run([*git, "tag", CONFIG["release_tag"]], check=True)
    return dest


def _fresh_venv(tmp_path: Path) -> tuple[Path, str]:
    """A new environment that sees this one's packages but the kit: Colab before the first cell."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Colab's pip is recent; Python 3.11's bundled pip cannot parse a "name @ git+file://" line.
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "preinstalled.pth").write_text(str(_site_without_the_kit(tmp_path)) + "\n")
    return python, site


def _run(cells: list, python: Path, tmp_path: Path) -> nbformat.NotebookNode:
    kernels = tmp_path / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "fresh",
                "language": "python",
            }
        )
    )
    nb = nbformat.v4.new_notebook(cells=cells)
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "LAB_EPOCHS": "1"}
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in a notebook
    os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]
    try:
        NotebookClient(
            nb, kernel_name="fresh", timeout=600, resources={"metadata": {"path": str(tmp_path)}}
        ).execute(env=env)
    finally:
        del os.environ["JUPYTER_PATH"]
    return nb


def printed(code_cell: nbformat.NotebookNode) -> str:
    """What a cell printed to stdout (TensorFlow's native logging may land in stderr beside it,
    in any order)."""
    return "".join(o.get("text", "") for o in code_cell.outputs if o.get("name") == "stdout")


def test_setup_cell_installs_the_published_kit_in_a_fresh_environment(tmp_path):
    """The lab's first sections, in Colab's situation, installing from the students' repository
    with the lab alone published; then the quiz, once the lab is closed."""
    lab = _published(tmp_path, "students", ["lab3_part2"])
    python, site = _fresh_venv(tmp_path)

    released = nbformat.read(lab / "release" / "lab3_part2" / "lab3_part2.ipynb", as_version=4)
    local = install_spec({**CONFIG, "repository": f"file://{lab}"})
    cells = [cell(released, gid) for gid in ("install", "setup", "load", "first_image")]
    cells[0].source = cells[0].source.replace(install_spec(CONFIG), local)
    probe = nbformat.v4.new_code_cell(
        "import importlib.util, course_utils, tensorflow as tf\n"
        "print(course_utils.__file__)\n"
        "print(tf.__file__, tf.__version__)\n"
        'print([importlib.util.find_spec(f"course_utils.{m}") is None for m in '
        '("grading", "assignments", "publishing", "model", "data")])'
    )
    nb = _run([*cells, probe], python, tmp_path)

    kit_path, tf_line, missing = printed(nb.cells[-1]).splitlines()
    assert kit_path.startswith(site), "the kit should now be installed in the fresh environment"
    assert missing == "[True, True, True, True, False]", "only the helpers the lab imports"
    import tensorflow as tf

    tf_file, tf_version = tf_line.split()
    assert tf_version == tf.__version__, "the preinstalled TensorFlow must be kept"
    assert Path(tf_file).resolve() == Path(tf.__file__).resolve(), (
        "TensorFlow must not be reinstalled"
    )
    assert not list(Path(site).glob("tensorflow*"))
    assert any(
        o.output_type == "execute_result" and "image/png" in o.data for o in nb.cells[3].outputs
    )

    # After the lab's due date: the quiz, whose setup imports the lab's network.
    both = _published(tmp_path, "students-later", ["lab3_part2", "lab3_quiz"], {"lab3_part2"})
    spec = install_spec({**CONFIG, "repository": f"file://{both}"}).strip('"')
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", spec],
        check=True,
    )
    quiz = nbformat.read(both / "release" / "lab3_quiz" / "lab3_quiz.ipynb", as_version=4)
    probe = nbformat.v4.new_code_cell("print(build_model(4).count_params())")
    nb = _run([cell(quiz, "install"), cell(quiz, "setup"), probe], python, tmp_path)
    assert printed(nb.cells[-1]).strip() == "8070"
