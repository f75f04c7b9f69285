"""Solution and hidden-test regions in a cell's source, found the way nbgrader finds them.

A region starts at a line that contains the begin marker (``### BEGIN HIDDEN TESTS``) and ends
at the line that contains the end marker; the marker lines themselves belong to no region.
As in nbgrader's ``ClearSolutions`` and ``ClearHiddenTests``, a region that is never closed,
or one opened inside another, is an error rather than a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Markers(NamedTuple):
    """The begin and end markers of one kind of region (nbgrader's delimiters)."""

    begin: str
    end: str


HIDDEN_TESTS = Markers("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
SOLUTION = Markers("BEGIN SOLUTION", "END SOLUTION")


class RegionError(ValueError):
    """A region is opened twice or never closed."""


def _walk(source: str, markers: Markers) -> list[tuple[str, str]]:
    """Each line of `source` tagged ``"out"``, ``"in"``, ``"begin"`` or ``"end"``."""
    tagged, inside = [], False
    for line in source.split("\n"):
        if markers.begin in line:
            if inside:
                raise RegionError(f"{markers.begin!r} inside another {markers.begin!r} region")
            inside = True
            tagged.append(("begin", line))
        elif markers.end in line:
            inside = False
            tagged.append(("end", line))
        else:
            tagged.append(("in" if inside else "out", line))
    if inside:
        raise RegionError(f"{markers.begin!r} without {markers.end!r}")
    return tagged


def blocks(source: str, markers: Markers) -> list[str]:
    """The text inside each region of `source`, markers excluded."""
    found: list[list[str]] = []
    for kind, line in _walk(source, markers):
        if kind == "begin":
            found.append([])
        elif kind == "in":
            found[-1].append(line)
    return ["\n".join(block) for block in found]


def replace_regions(
    source: str, markers: Markers, replace: Callable[[list[str]], list[str]]
) -> str:
    """`source` with each region, markers included, replaced by ``replace(region lines)``."""
    out: list[str] = []
    region: list[str] = []
    inside = False  # an end marker outside a region is dropped, as nbgrader drops it
    for kind, line in _walk(source, markers):
        if kind == "begin":
            region, inside = [], True
        elif kind == "in":
            region.append(line)
        elif kind == "end":
            if inside:
                out.extend(replace(region))
            inside = False
        else:
            out.append(line)
    return "\n".join(out)


def without_regions(source: str, *markers: Markers) -> str:
    """`source` with every region of each kind in `markers` removed, markers included."""
    for kind in markers:
        source = replace_regions(source, kind, lambda _: [])
    return source


def without_markers(source: str, markers: Markers) -> str:
    """`source` with the marker lines dropped and the regions' content kept."""
    return "\n".join(line for kind, line in _walk(source, markers) if kind in ("in", "out"))


def hidden_lines(source: str, markers: Markers = HIDDEN_TESTS) -> list[str]:
    """The non-blank lines of the hidden tests in `source`, stripped."""
    return [
        line.strip()
        for block in blocks(source, markers)
        for line in block.split("\n")
        if line.strip()
    ]


def without_hidden(source: str, markers: Markers = HIDDEN_TESTS) -> str:
    """`source` with each hidden block replaced by one comment that counts its lines."""

    def note(lines: list[str]) -> list[str]:
        count = sum(bool(line.strip()) for line in lines)
        return [f"# ({count} lines of hidden tests are not shown)"]

    return replace_regions(source, markers, note)
