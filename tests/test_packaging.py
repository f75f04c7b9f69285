"""Packaging: environment.yml agrees with pyproject.toml; importing the kit is cheap."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import yaml
from packaging.requirements import Requirement

from support import ROOT


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {Requirement(s).name.lower(): str(Requirement(s).specifier) for s in specs}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            entries += [p for p in item["pip"] if not p.startswith("-e")]
        elif not item.startswith(("python=", "pip")) or item.startswith("pip "):
            entries.append(item)
    return {Requirement(s).name.lower(): str(Requirement(s).specifier) for s in entries}


def test_environment_yml_and_pyproject_list_the_same_packages():
    assert _environment_requirements() == _pyproject_requirements()


def test_required_packages_are_listed():
    needed = {
        "jupyterlab",
        "nbgrader",
        "tensorflow",
        "numpy",
        "matplotlib",
        "seaborn",
        "scikit-learn",
        "nbval",
        "pytest",
    }
    assert needed <= set(_pyproject_requirements())


def test_tensorflow_range_keeps_colabs_preinstalled_version():
    spec = Requirement(f"tensorflow{_pyproject_requirements()['tensorflow']}").specifier
    assert "2.20.0" in spec and "2.16.1" in spec
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(Requirement(s).name == "tensorflow" for s in project["dependencies"])


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, course_utils;"
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'seaborn', 'sklearn')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
