"""Hypothesis profiles for the whole suite: the same examples on every run unless asked otherwise.

Hypothesis draws random examples by default; it derandomizes only under its built-in `ci` profile,
which it loads when a CI variable is set. Outside CI the README's test command therefore tried
different examples each run and failed at random (issue 20: `'\\x90'`). Here the `repeatable`
profile is loaded in and outside CI: a test fails when the code changes, never by chance.
`HYPOTHESIS_PROFILE=explore` (the `fuzz` nox session, not a default one) draws random examples,
ten times as many; whatever it finds is kept as an explicit `@example` in the test.

A test that sets its own `max_examples` passes it through `examples()`, so that exploring scales
it too; it must not pass `derandomize` or `database`, which the profile decides.
"""

from __future__ import annotations

import importlib.util
import os

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
EXPLORE_FACTOR = 10

# The verification cells and the verifiers session fuzz nothing: they install no hypothesis.
FUZZING = importlib.util.find_spec("hypothesis") is not None


def _load_profiles() -> None:
    from hypothesis import settings

    settings.register_profile(
        "repeatable",
        derandomize=True,
        database=None,  # derandomized, a replayed failure from an earlier run adds nothing
        deadline=None,  # a wall-clock limit that a loaded machine (2 cores) breaks by chance
        print_blob=True,
    )
    settings.register_profile(
        "explore",
        derandomize=False,
        deadline=None,
        max_examples=settings.get_profile("default").max_examples * EXPLORE_FACTOR,
        print_blob=True,
    )
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "repeatable"))


if FUZZING:
    _load_profiles()


def examples(count: int) -> int:
    """A test's own number of examples: as given when repeatable, ten times as many exploring."""
    from hypothesis import settings

    exploring = settings.get_current_profile_name() == "explore"
    return count * EXPLORE_FACTOR if exploring else count
