"""The pre-commit hooks strip a notebook's outputs and check its format, as a contributor's
commit would run them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat

from course_utils.assignments import notebook_problems
from course_utils.environment import tool_env
from support import ROOT


def test_hooks_strip_outputs_then_pass(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-config.yaml", repo)
    committed = ROOT / "source" / "lab3_part2" / "lab3_part2.ipynb"
    nb = nbformat.read(committed, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    code.execution_count = 3
    nbformat.write(nb, repo / "lab.ipynb")
    assert notebook_problems(repo / "lab.ipynb") == [f"{repo / 'lab.ipynb'}: cell 1 has outputs"]

    env = tool_env(PRE_COMMIT_HOME=str(tmp_path / "cache"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    first = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True)
    assert first.returncode == 1 and "files were modified by this hook" in first.stdout, (
        first.stdout
    )
    assert notebook_problems(repo / "lab.ipynb") == []
    assert (repo / "lab.ipynb").read_bytes() == committed.read_bytes()
    second = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout
