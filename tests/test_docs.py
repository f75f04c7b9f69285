"""The documentation site (mkdocs.yml, docs/) builds in strict mode, and the build can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT


def _build(project: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of the project in `project` into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )


def test_the_site_builds_strictly(tmp_path):
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "grading-and-security" / "index.html").is_file()
    assert (tmp_path / "site" / "images" / "samples.png").is_file()
    # the students' repository's README is a template for that repository, not a page here
    assert not (tmp_path / "site" / "students-readme").exists()


@pytest.fixture
def copy(tmp_path):
    """A copy of mkdocs.yml and docs/ to break."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copyfile(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    return project


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            ("orphan.md", "# Orphan\n"), 'not included in the "nav"', id="page-not-in-nav"
        ),
        pytest.param(("index.md", "\n[x](no-such-page.md)\n"), "no-such-page.md", id="broken-link"),
        pytest.param(
            ("index.md", "\n[x](calibration.md#no-such)\n"), "#no-such", id="broken-anchor"
        ),
        pytest.param(("students.md", "\n![x](images/none.png)\n"), "none.png", id="missing-image"),
        pytest.param(("index.md", "\n[x](/calibration.md)\n"), "absolute link", id="absolute-link"),
    ],
)
def test_the_strict_build_fails_on(copy, edit, message):
    assert _build(copy, copy / "site").returncode == 0, "the untouched copy builds"
    name, text = edit
    with open(copy / "docs" / name, "a") as f:
        f.write(text)
    done = _build(copy, copy / "site")
    assert done.returncode != 0, f"{name}: the strict build passed"
    assert message in done.stdout + done.stderr
