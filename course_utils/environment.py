"""Where the kit lives, and the environment its command-line tools run in.

Instructor tooling, tests and scripts run nbgrader, jupyter and alembic as subprocesses, and
nbgrader itself finds `alembic` and kernels on PATH. `tool_env` puts this interpreter's `bin`
folder first, so they all come from the same environment as the caller.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

#: The kit's checkout (the folder that holds pyproject.toml, source/ and release/).
REPO = Path(__file__).resolve().parents[1]

#: This interpreter's folder of scripts (`nbgrader`, `jupyter`, `alembic`, ...).
BIN = Path(sys.executable).parent


def tool_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A copy of the environment with this interpreter's `bin` first on PATH.

    Args:
        base: the environment to start from (default: ``os.environ``).
        **extra: variables to set on top.

    Returns:
        A new dictionary, ready for ``subprocess.run(..., env=...)``.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra)
    return env
