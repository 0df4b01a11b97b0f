"""`python -m verification settings`: what the first cell of a run asks before any verifies, so
that a wrong PACT_* variable fails the run in one line, naming it, instead of in every cell."""

from __future__ import annotations

import pytest

from matrix import PROVIDER
from verification import gitinfo
from verification.__main__ import main

GOOD = {
    "PACT_BROKER_BASE_URL": "https://reader:s3cret@broker.example.com",
    "PACT_PROVIDER_VERSION": "abc123",
    "PACT_PROVIDER_BRANCH": "main",
}


@pytest.fixture(autouse=True)
def only_these_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PACT_URL", "PACT_BROKER_BASE_URL", "PACT_MATRIX_EMBEDDED_BROKER",
                 "PACT_DESCRIPTION", "PACT_CONSUMER_VERSION_SELECTORS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({}, "the pacts that [{'mainBranch': True}"),
        ({"PACT_URL": "https://broker.example.com/pacts/provider/P/consumer/C/version/1"},
         "the pact at PACT_URL https://broker.example.com/pacts/provider/P/consumer/C/version/1"),
    ],
)  # fmt: skip
def test_it_says_what_would_be_verified_where_and_as_which_version(
    variables: dict[str, str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {**GOOD, **variables}.items():
        monkeypatch.setenv(name, value)
    assert main(["settings"]) == 0
    said = capsys.readouterr().out
    assert says in said
    assert f"on https://***@broker.example.com, as {PROVIDER} abc123 (main)" in said
    assert "s3cret" not in said


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PACT_URL", "ftp://example.com/pact", "PACT_URL must be an http(s) URL of a pact"),
        ("PACT_DESCRIPTION", "(", "PACT_DESCRIPTION is not a valid regular expression"),
        ("PACT_CONSUMER_VERSION_SELECTORS", "{not json", "PACT_CONSUMER_VERSION_SELECTORS"),
    ],
)
def test_a_wrong_variable_is_one_line_naming_it(
    name: str,
    value: str,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for good, setting in GOOD.items():
        monkeypatch.setenv(good, setting)
    monkeypatch.setenv(name, value)
    assert main(["settings"]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith("error: ")
    assert says in said.err
    assert said.err.count("\n") == 1


def test_a_checkout_with_no_branch_is_told_to_name_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A detached HEAD (a `git worktree add` of a commit, say) has no branch, which the
    matchingBranch selector needs: every cell would fail on the broker's 400."""
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PACT_PROVIDER_BRANCH")
    monkeypatch.setattr(gitinfo, "branch", lambda cwd, environ: None)
    assert main(["settings"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: no provider branch (a detached HEAD?)")
    assert "PACT_PROVIDER_BRANCH" in said
    # With a pact named by URL, or selectors that need no branch, there is nothing to ask.
    monkeypatch.setenv("PACT_CONSUMER_VERSION_SELECTORS", '[{"mainBranch": true}]')
    assert main(["settings"]) == 0
