"""JupyterLab in a real browser: the instructor notebook runs clean and shows its figures; the
student notebook shows its exercise stubs and nbgrader's validate button.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against `jupyter lab` on
127.0.0.1. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from course_utils.environment import tool_env
from support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


def _jupyter(*args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_nbgrader_extensions_are_enabled():
    listing = _jupyter("labextension", "list")
    assert re.search(r"@jupyter/nbgrader v[\d.]+ enabled OK", listing), listing
    assert "Disabled extensions" not in listing, listing
    static = (
        Path(sys.executable).parents[1] / "share/jupyter/labextensions/@jupyter/nbgrader/static"
    )
    code = "".join(p.read_text(errors="ignore") for p in static.glob("*.js"))
    for plugin in ("assignment-list", "validate-assignment", "formgrader", "create-assignment"):
        assert f'"@jupyter/nbgrader:{plugin}"' in code, plugin
    servers = _jupyter("server", "extension", "list")
    for extension in ("formgrader", "validate_assignment", "assignment_list", "course_list"):
        assert re.search(rf"nbgrader\.server_extensions\.{extension} enabled", servers), extension


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a token, serving a copy of the course folder."""
    root = tmp_path_factory.mktemp("lab")
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    runtime = root / ".runtime"
    env = tool_env(
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_WORKSPACES_DIR=str(runtime / "workspaces"),
        LAB_EPOCHS=os.environ.get("LAB_EPOCHS", "1"),
    )
    env.pop("MPLBACKEND", None)  # kernels use their inline backend, as for a student
    # Render every cell (no lazy windowing) and skip the news prompt.
    settings = runtime / "settings" / "@jupyterlab"
    for extension, plugin, value in (
        ("notebook-extension", "tracker", '{"windowingMode": "none"}'),
        ("apputils-extension", "notification", '{"fetchNews": "false"}'),
    ):
        (settings / extension).mkdir(parents=True, exist_ok=True)
        (settings / extension / f"{plugin}.jupyterlab-settings").write_text(value)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(runtime / "settings")
    log = open(root / "jupyter.log", "w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "jupyter.log").read_text()) from None
            time.sleep(0.5)
    yield lambda path: f"{base}/lab/tree/{path}?reset&token={token}"  # reset: only this notebook
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "the browser test needs Debian's chromium: apt-get install chromium"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    _wait_until_open(page)
    return page


def _wait_until_open(page):
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


def _menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _run_all(page):
    """Run every cell from the Run menu; where no cell has finished a few minutes after the click
    (a click that started nothing, or a page left on a kernel that JupyterLab replaced as it
    opened the notebook, whose cells wait forever), reload the page and click again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ran = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .some(p => /\\[\\d+\\]/.test(p.textContent))"""
    for _ in range(3):
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(ran, timeout=180_000, polling=1000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            page.reload()
            _wait_until_open(page)
    raise AssertionError("Run All Cells ran no cell, three times")


def test_instructor_notebook_runs_clean_with_its_figures(browser, lab_url):
    page = _open(browser, lab_url("source/lab3_part2/lab3_part2.ipynb"))
    _run_all(page)
    # Every code cell gets a number in its prompt when it has run; "[*]" while it waits.
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=900_000,
        polling=2000,
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "instructor-top.png"))
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not [t for t in texts if "Error" in t or "Traceback" in t], texts
    for call in (
        "plots.plot_history(history)",
        "plots.plot_confusion_matrix(actual, predicted, CLASS_NAMES)",
    ):
        cell = page.locator(
            ".jp-CodeCell", has=page.locator(".jp-InputArea-editor", has_text=call)
        ).first
        cell.scroll_into_view_if_needed()
        image = cell.locator(".jp-RenderedImage img")
        assert image.count() == 1, call
        assert image.evaluate("img => img.naturalWidth") > 500
        cell.screenshot(path=str(ARTIFACTS / f"instructor-{call.split('(')[0].split('.')[-1]}.png"))
    assert page.locator(".jp-RenderedImage img").count() >= 6
    page.close()


def test_student_notebook_shows_stubs_and_validate_button(browser, lab_url):
    page = _open(browser, lab_url("release/lab3_part2/lab3_part2.ipynb"))
    released = nbformat.read(ROOT / "release" / "lab3_part2" / "lab3_part2.ipynb", as_version=4)
    exercises = [
        c for c in released.cells if c.cell_type == "code" and c.metadata["nbgrader"]["solution"]
    ]
    stubs = page.locator(
        ".jp-CodeCell .jp-InputArea-editor", has_text="raise NotImplementedError()"
    )
    assert stubs.count() == len(exercises) == 6
    validate = page.locator(
        ".jp-Toolbar button, .jp-Toolbar .jp-ToolbarButtonComponent", has_text="Validate"
    )
    assert validate.count() >= 1 and validate.first.is_visible()
    assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 1
    page.screenshot(path=str(ARTIFACTS / "student.png"))
    page.close()
