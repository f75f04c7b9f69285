"""Where the kit's checkout and its assignments are."""

from __future__ import annotations

from course_utils.environment import REPO

#: The checkout under test (the folder that holds source/, release/ and nbgrader_config.py).
ROOT = REPO
#: Every assignment's name: the folders of source/, sorted.
ASSIGNMENTS: list[str] = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
