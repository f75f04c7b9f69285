"""Helpers for the Fashion-MNIST lab, split by concern.

Import what you need from its module; importing the package itself loads nothing heavy:

- `course_utils.data`: finding, verifying and loading Fashion-MNIST; pre-processing.
- `course_utils.model`: the lab's network, its compile settings and parameter count.
- `course_utils.plots`: figures for images, learning curves and confusion matrices.
"""

__version__ = "0.1.0"
