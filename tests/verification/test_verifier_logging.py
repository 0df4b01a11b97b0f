"""The harness turns the verifier's log forwarding down where pact-python reads it."""

from __future__ import annotations

import logging

import pact.logging

import verification.cell  # noqa: F401  (sets the levels on import, before any Verifier)


def test_the_ffi_forwards_only_warnings_and_errors() -> None:
    # pact-python reads the `pact.ffi` logger's own level, not the effective level inherited
    # from `pact`: without it, every INFO event crosses from Rust into Python.
    assert logging.getLogger("pact.ffi").level == logging.WARNING
    assert pact.logging.forwarding_level() == logging.WARNING
