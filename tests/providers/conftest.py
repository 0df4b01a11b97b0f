"""Fixtures: every test that takes `provider` runs once per framework, over real sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from matrix import FRAMEWORKS
from tests.provider_under_test import ProviderUnderTest, running_provider

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def provider(framework: str) -> Iterator[ProviderUnderTest]:
    """The provider with the state endpoint on, as a verification starts it."""
    with running_provider(framework) as running:
        yield running
