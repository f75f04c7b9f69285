"""Point every instructor notebook's Colab badge and install line at `[tool.course-kit]`.

Usage: python tools/colab.py   (then `make release` to regenerate the student versions)
"""

from __future__ import annotations

from course_utils.assignments import apply_kit_config, kit_config
from course_utils.environment import REPO


def main() -> None:
    config = kit_config()
    for folder in sorted((REPO / "source").iterdir()):
        notebook = folder / f"{folder.name}.ipynb"
        changed = apply_kit_config(notebook, folder.name, config)
        print(f"{notebook.relative_to(REPO)}: {'updated' if changed else 'up to date'}")


if __name__ == "__main__":
    main()
