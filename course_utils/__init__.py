"""Helpers for the Fashion-MNIST lab, split by concern.

Import what you need from its module; importing the package itself loads nothing heavy:

- `course_utils.data`: finding, verifying and loading Fashion-MNIST; pre-processing.
- `course_utils.model`: the lab's network and its compile settings (students get it with the
  quiz, once the lab is closed).
- `course_utils.plots`: figures for images, learning curves and confusion matrices.
- `course_utils.handin`: the notebooks' last cell: checks the hand-in, names the file to upload.
"""

__version__ = "0.1.0"
