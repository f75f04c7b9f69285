"""Fixtures shared by the tests (paths and helpers live in the `support` package)."""

from __future__ import annotations

import pytest

# Assertions in the shared helpers and tests of `support` explain themselves as in test files.
pytest.register_assert_rewrite("support")


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real data set, loaded once per test session."""
    from course_utils.data import load_fashion_mnist

    return load_fashion_mnist(download=False)


# The longest test files first (the instructor notebooks, run by nbval, are files too): under
# `pytest -n 2 --dist loadfile` (make test) each worker takes the next file when it is free, so
# starting with these lets both finish together. In the order of the last clean-clone CI run's
# times.
LONGEST_FIRST = (
    "test_grading.py",
    "test_sandbox.py",
    "test_judge.py",
    "test_same_marks.py",
    "test_roundtrip_lab3_quiz.py",
    "test_roundtrip_lab3_part2.py",
    "test_late.py",
    "lab3_quiz.ipynb",
    "test_validate.py",
    "test_judge_quiz.py",
    "test_service.py",
    "test_grading_length.py",
    "test_new_assignment.py",
    "lab3_part2.ipynb",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each file stays


# Networks that the tests' own kernels fit (nbval, nbgrader validate) are trained once per run
# (tests/support/fits.py). The controller makes the folder; pytest-xdist's workers inherit its
# name. The kernels of nbval's notebooks and of the files that set KEEPS_FITS use it: a plugin
# of the whole session, since this file's own hooks reach only the tests under tests/.
_FITS: list = []


class _Fits:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from support import fits

        module = getattr(item, "module", None)
        fits.use(item.path.suffix == ".ipynb" or getattr(module, "KEEPS_FITS", False))


def pytest_configure(config: pytest.Config) -> None:
    from support import fits

    folder = fits.begin()
    if folder is not None:
        _FITS.append(folder)
    config.pluginmanager.register(_Fits(), "course-kit-fits")


def pytest_terminal_summary(terminalreporter) -> None:
    from support import fits

    for folder in _FITS:
        terminalreporter.write_line(fits.summary(folder))


def pytest_unconfigure(config: pytest.Config) -> None:
    from support import fits

    while _FITS:
        fits.end(_FITS.pop())
