"""Cells that verified the same pacts must agree on every interaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from verification.__main__ import main
from verification.compare import compare
from verification.results import CellResult, InteractionOutcome, PactRef

MakeCell = Callable[..., CellResult]
MakeInteraction = Callable[..., InteractionOutcome]
NEW_PACT = PactRef("UserConsumer", "http://broker.test/pacts/provider/UserProvider/pact-version/2")


def test_cells_that_agree_pass(make_cell: MakeCell) -> None:
    cells = [
        make_cell(python, framework)
        for python in ("3.11", "3.12")
        for framework in ("flask-3.1", "fastapi-0.165")
    ]
    comparison = compare(cells)

    assert comparison.ok
    [group] = comparison.groups
    assert group.cells == tuple(cell.cell for cell in cells)
    assert group.interactions == 3
    assert comparison.verdict() == (
        "4 cells in 1 group(s) that verified the same pacts, 3 interaction(s): every cell agrees"
    )


def test_cells_that_both_fail_an_interaction_agree(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction("a request for user 1", success=False, mismatches=["status"])
    comparison = compare([make_cell(series=f, interactions=[failed]) for f in ("flask-3.1", "x")])
    assert comparison.ok


def test_an_interaction_one_cell_fails_is_a_disagreement_naming_cells_and_interaction(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    passed = make_interaction("a request for user 1", "user 1 exists")
    failed = make_interaction("a request for user 1", "user 1 exists", success=False)
    comparison = compare(
        [
            make_cell("3.12", "flask-3.1", [passed]),
            make_cell("3.12", "fastapi-0.165", [failed]),
            make_cell("3.13", "flask-3.1", [passed]),
        ]
    )

    assert not comparison.ok
    [disagreement] = comparison.groups[0].disagreements
    assert disagreement.interaction == "UserConsumer: a request for user 1 given user 1 exists"
    assert disagreement.describe() == (
        "UserConsumer: a request for user 1 given user 1 exists: "
        "passed in verify-3.12(flask-3.1), verify-3.13(flask-3.1); "
        "failed in verify-3.12(fastapi-0.165)"
    )
    assert "1 disagree" in comparison.verdict()


def test_an_interaction_missing_from_one_cell_is_a_disagreement(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    first, second = make_interaction("first"), make_interaction("second", "a state")
    comparison = compare(
        [
            make_cell("3.12", "flask-3.1", [first, second]),
            make_cell("3.12", "fastapi-0.165", [first]),
        ]
    )

    assert not comparison.ok
    [disagreement] = comparison.groups[0].disagreements
    assert disagreement.outcomes == (
        ("verify-3.12(flask-3.1)", "passed"),
        ("verify-3.12(fastapi-0.165)", "missing"),
    )


def test_the_same_description_in_another_state_is_another_interaction(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    in_one_state = make_interaction("a request for user 1", "user 1 exists")
    in_another = make_interaction("a request for user 1", "user 1 was deleted")
    comparison = compare(
        [
            make_cell(series="flask-3.1", interactions=[in_one_state]),
            make_cell(series="fastapi-0.165", interactions=[in_another]),
        ]
    )
    assert len(comparison.groups[0].disagreements) == 2


def test_cells_that_verified_other_pacts_are_compared_only_among_themselves(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    newer = [make_interaction("a request that only the new pact has")]
    comparison = compare(
        [
            make_cell("3.11", "flask-3.1"),
            make_cell("3.11", "fastapi-0.165"),
            make_cell("3.12", "flask-3.1", newer, pacts=[NEW_PACT]),
            make_cell("3.12", "fastapi-0.165", newer, pacts=[NEW_PACT]),
        ]
    )

    assert comparison.ok
    assert [group.cells for group in comparison.groups] == [
        ("verify-3.11(flask-3.1)", "verify-3.11(fastapi-0.165)"),
        ("verify-3.12(flask-3.1)", "verify-3.12(fastapi-0.165)"),
    ]


def test_a_cell_no_other_can_be_held_against_fails_the_comparison(make_cell: MakeCell) -> None:
    comparison = compare(
        [
            make_cell("3.11", "flask-3.1"),
            make_cell("3.11", "fastapi-0.165"),
            make_cell("3.12", "flask-3.1", pacts=[NEW_PACT]),
        ]
    )

    assert not comparison.ok
    assert comparison.not_compared == (
        ("verify-3.12(flask-3.1)", "no other cell verified the same pacts"),
    )


def test_a_cell_that_verified_no_pacts_fails_the_comparison(make_cell: MakeCell) -> None:
    comparison = compare(
        [
            make_cell(series="flask-3.1"),
            make_cell(series="fastapi-0.165"),
            make_cell(series="x", interactions=[], pacts=[], error="no pacts"),
        ]
    )

    assert not comparison.ok
    assert comparison.not_compared == (("verify-3.12(x)", "verified no pacts (no pacts)"),)


def test_a_single_cell_compares_nothing(make_cell: MakeCell) -> None:
    comparison = compare([make_cell()])
    assert not comparison.ok
    assert comparison.verdict() == "nothing was compared: no two cells verified the same pacts"


def test_the_command_fails_and_names_the_cells_and_interaction(
    make_cell: MakeCell,
    make_interaction: MakeInteraction,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed = make_interaction("a request to create a user", success=False)
    make_cell("3.12", "flask-3.1").write(tmp_path)
    make_cell("3.12", "fastapi-0.165", [*make_cell().interactions[:2], failed]).write(tmp_path)

    assert main(["compare", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "DISAGREE UserConsumer: a request to create a user: " in out
    assert "failed in verify-3.12(fastapi-0.165); passed in verify-3.12(flask-3.1)" in out


def test_the_command_passes_and_says_what_it_compared(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for framework in ("flask-3.1", "fastapi-0.165"):
        make_cell("3.12", framework).write(tmp_path)
    (tmp_path / "nox").mkdir()  # nox reports live in a folder and are not results

    assert main(["compare", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 cells in 1 group(s) that verified the same pacts, 3 interaction(s)")
    assert "cells verify-3.12(fastapi-0.165), verify-3.12(flask-3.1)" in out


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_no_result_files_is_an_error_not_a_pass(
    folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / folder
    if folder == "empty":
        directory.mkdir()

    assert main(["compare", str(directory)]) == 2
    assert "no result files (*.json)" in capsys.readouterr().err


def test_an_unreadable_result_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "verify-3.12(flask-3.1).json").write_text('{"schema": 99}')
    assert main(["compare", str(tmp_path)]) == 2
    assert "unsupported result schema 99" in capsys.readouterr().err


def test_the_same_pact_from_embedded_brokers_on_different_ports_is_the_same_pact(
    make_cell: MakeCell,
) -> None:
    """Each cell's embedded broker listens on its own port: the content SHA names the pact."""
    path = "/pacts/provider/UserProvider/consumer/UserConsumer/pact-version/e0ec755b/metadata/x"
    first, second = (
        make_cell(
            series=framework, pacts=[PactRef("UserConsumer", f"http://127.0.0.1:{port}{path}")]
        )
        for framework, port in (("flask-3.1", 41001), ("fastapi-0.165", 52002))
    )
    changed = make_cell(
        python="3.13",
        pacts=[
            PactRef("UserConsumer", f"http://127.0.0.1:41001{path.replace('e0ec755b', 'ffff')}")
        ],
    )

    comparison = compare([first, second, changed])

    [group] = comparison.groups
    assert group.cells == (first.cell, second.cell)
    assert [cell for cell, _ in comparison.not_compared] == [changed.cell]
