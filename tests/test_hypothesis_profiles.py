"""The suite's hypothesis profile (tests/conftest.py): every fuzz test draws the same examples on
every run, in and outside CI, unless `HYPOTHESIS_PROFILE=explore` asks for random ones."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.broker import test_broker_fuzz, test_broker_http
from tests.conftest import EXPLORE_FACTOR, PROFILE_VARIABLE, examples
from tests.reliability import test_broker_auth, test_broker_hostile

repeatable_only = pytest.mark.skipif(
    PROFILE_VARIABLE in os.environ, reason=f"{PROFILE_VARIABLE} chose another profile"
)


@repeatable_only
def test_the_default_profile_is_derandomized_without_a_database() -> None:
    assert settings.get_current_profile_name() == "repeatable"
    assert settings.default is not None
    assert settings.default.derandomize
    assert settings.default.database is None
    assert examples(7) == 7


def test_exploring_is_random_with_ten_times_the_examples() -> None:
    explore = settings.get_profile("explore")
    assert not explore.derandomize
    assert explore.max_examples == settings.get_profile("default").max_examples * EXPLORE_FACTOR


def draws() -> list[str]:
    """What one run of a test with its own `max_examples` draws."""
    drawn: list[str] = []

    @settings(max_examples=examples(20), suppress_health_check=list(HealthCheck))
    @given(st.text())
    def check(text: str) -> None:
        drawn.append(text)

    check()
    return drawn


@repeatable_only
def test_a_test_with_its_own_max_examples_draws_the_same_examples_every_run() -> None:
    first = draws()
    assert len(set(first)) > 1  # it did draw, and not one value only
    assert draws() == first


# Each fuzz test of the suite, as decorated: its own settings must keep the profile's.
FUZZ_TESTS = [
    test_broker_fuzz.test_malformed_requests_are_4xx_json,
    test_broker_http.test_no_for_verification_body_causes_a_server_error,
    test_broker_auth.test_only_the_exact_password_matches,
    test_broker_hostile.test_a_body_that_is_not_json_is_refused_and_changes_nothing,
    test_broker_hostile.test_names_with_path_traversal_or_odd_unicode_are_names_or_refused,
]


@repeatable_only
@pytest.mark.parametrize("test", FUZZ_TESTS, ids=lambda test: test.__name__)
def test_every_fuzz_test_of_the_suite_is_derandomized(test: object) -> None:
    # Where hypothesis keeps a test's settings (`@settings` sets it, `@given` reads it).
    chosen = getattr(test, "_hypothesis_internal_use_settings", None)
    assert isinstance(chosen, settings), test
    assert chosen.derandomize


@repeatable_only
def test_the_schemathesis_examples_are_derandomized() -> None:
    # The schemathesis test builds its `@given` per operation from these settings.
    assert test_broker_hostile.HYPOTHESIS.derandomize
