"""The lab3_part2 round trip: the shared tests of `support.roundtrip`, for this assignment."""

from support.roundtrip import *  # noqa: F403 (the round trip's fixtures and tests)

ASSIGNMENT = "lab3_part2"
