"""`regions`: solution and hidden-test regions, found and replaced as nbgrader finds them."""

from __future__ import annotations

import pytest

from course_utils.grading import regions
from course_utils.grading.regions import HIDDEN_TESTS, SOLUTION, RegionError

CELL = """assert f(1) == 1
### BEGIN HIDDEN TESTS
assert f(2) == 4

assert f(3) == 9
### END HIDDEN TESTS
print("done")"""


def test_blocks_are_the_text_between_the_markers():
    assert regions.blocks(CELL, HIDDEN_TESTS) == ["assert f(2) == 4\n\nassert f(3) == 9"]
    assert regions.blocks(CELL, SOLUTION) == []
    two = "# BEGIN SOLUTION\na = 1\n# END SOLUTION\nx\n# BEGIN SOLUTION\n# END SOLUTION"
    assert regions.blocks(two, SOLUTION) == ["a = 1", ""]


def test_hidden_lines_are_the_non_blank_ones_stripped():
    assert regions.hidden_lines(CELL) == ["assert f(2) == 4", "assert f(3) == 9"]
    assert regions.hidden_lines("no tests here") == []


def test_without_hidden_leaves_a_note_of_the_count():
    assert regions.without_hidden(CELL) == (
        'assert f(1) == 1\n# (2 lines of hidden tests are not shown)\nprint("done")'
    )


def test_without_regions_and_without_markers():
    source = "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n" + CELL
    assert regions.without_regions(source, SOLUTION, HIDDEN_TESTS) == (
        'assert f(1) == 1\nprint("done")'
    )
    assert regions.without_markers(source, SOLUTION) == "x = 1\n" + CELL


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN HIDDEN TESTS\nassert x", "without"),
        ("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS", "inside"),
    ],
)
def test_unclosed_or_nested_regions_are_errors(source, message):
    for use in (
        lambda s: regions.blocks(s, HIDDEN_TESTS),
        regions.without_hidden,
        regions.hidden_lines,
        lambda s: regions.without_regions(s, HIDDEN_TESTS),
        lambda s: regions.without_markers(s, HIDDEN_TESTS),
    ):
        with pytest.raises(RegionError, match=message):
            use(source)
    assert issubclass(RegionError, ValueError)


def test_a_stray_end_marker_is_dropped_as_nbgrader_drops_it():
    # nbgrader's ClearHiddenTests drops an end marker outside a region, and nothing else
    stray = "a = 1\n### END HIDDEN TESTS\nb = 2"
    assert regions.without_hidden(stray) == "a = 1\nb = 2"
    assert regions.without_regions(stray, HIDDEN_TESTS) == "a = 1\nb = 2"
    after = CELL + "\n### END HIDDEN TESTS"
    assert regions.without_hidden(after).count("hidden tests are not shown") == 1
    assert regions.blocks(after, HIDDEN_TESTS) == regions.blocks(CELL, HIDDEN_TESTS)


def test_replace_regions_hands_each_region_its_own_lines():
    seen: list[list[str]] = []

    def keep(lines: list[str]) -> list[str]:
        seen.append(lines)
        return ["<" + ",".join(lines) + ">"]

    source = "# BEGIN SOLUTION\na\nb\n# END SOLUTION\nc\n# BEGIN SOLUTION\n# END SOLUTION"
    assert regions.replace_regions(source, SOLUTION, keep) == "<a,b>\nc\n<>"
    assert seen == [["a", "b"], []]


def test_markers_count_anywhere_on_a_line():
    source = "x = 1  ### BEGIN SOLUTION (keep)\ny = 2\n    # END SOLUTION here"
    assert regions.blocks(source, SOLUTION) == ["y = 2"]
