"""The verdict drawn from the cells' results: verified only if every cell verified every
interaction of a pact and passed. Built from results as the cells write them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from matrix import ALL_CELLS, FRAMEWORKS, MATRIX, Series, cell_name
from verification.results import CellResult, InteractionOutcome, PactRef
from verification.verdict import VerdictError, judge

RUN = "run-1"
PACT = PactRef(
    consumer="UserConsumer",
    url="http://broker.test/pacts/provider/UserProvider/consumer/UserConsumer/pact-version/ab12",
    interaction_ids=("i1", "i2"),
)


def outcome(interaction_id: str, *, success: bool = True) -> InteractionOutcome:
    return InteractionOutcome(
        consumer="UserConsumer",
        description=f"interaction {interaction_id}",
        states=(),
        success=success,
        mismatches=() if success else ("BodyMismatch $.name: Expected 'Ada'",),
        interaction_id=interaction_id,
    )


def cell(
    python: str, series: Series, *, failing: tuple[str, ...] = (), **changes: Any
) -> CellResult:
    interactions = tuple(outcome(i, success=i not in failing) for i in PACT.interaction_ids)
    result = CellResult(
        cell=cell_name(python, series.name),
        framework=series.framework,
        python=python,
        provider="UserProvider",
        provider_version="v1",
        provider_branch="main",
        broker="embedded",
        success=not failing,
        seconds=0.1,
        interactions=interactions,
        pacts=(PACT,),
        run=RUN,
    )
    return dataclasses.replace(result, **changes)


def matrix(**per_framework: Mapping[str, Any]) -> list[CellResult]:
    """Every cell of the matrix; `flask={"failing": ("i2",)}` changes every Flask cell."""
    return [
        cell(python, series, **per_framework.get(series.framework, {})) for python, series in MATRIX
    ]


def test_every_cell_passing_every_interaction_is_a_verified_version() -> None:
    verdict = judge(matrix(), ALL_CELLS, whole=True)

    assert verdict.success
    (pact,) = verdict.pacts
    assert pact.passed == ALL_CELLS
    cells = len(ALL_CELLS)
    assert pact.line() == f"UserConsumer pact ab12: verified, {cells} of {cells} cells passed"
    assert len(pact.test_results) == len(ALL_CELLS) * len(PACT.interaction_ids)
    assert {entry["cell"] for entry in pact.test_results} == set(ALL_CELLS)


def test_one_failing_framework_fails_the_verdict_and_names_each_cell_and_mismatch() -> None:
    broken = FRAMEWORKS[-1]
    verdict = judge(matrix(**{broken: {"failing": ("i2",)}}), ALL_CELLS, whole=True)

    assert not verdict.success
    (pact,) = verdict.pacts
    failing_cells = [cell_name(p, s.name) for p, s in MATRIX if s.framework == broken]
    assert set(pact.passed) == set(ALL_CELLS) - set(failing_cells)
    for name in failing_cells:
        assert f"{name}: UserConsumer: interaction i2: BodyMismatch $.name: Expected 'Ada'" in (
            pact.problems
        )
    failed = [entry for entry in pact.test_results if not entry["success"]]
    assert {entry["cell"] for entry in failed} == set(failing_cells)
    assert all(entry["interactionId"] == "i2" for entry in failed)
    assert all(entry["mismatches"] for entry in failed)


def test_a_pending_pact_that_a_cell_failed_is_a_failed_verdict() -> None:
    pending = dataclasses.replace(PACT, pending=True)
    results = matrix(**{FRAMEWORKS[0]: {"failing": ("i1",), "pacts": (pending,)}})
    results = [dataclasses.replace(result, pacts=(pending,)) for result in results]

    verdict = judge(results, ALL_CELLS, whole=True)

    assert not verdict.success
    assert verdict.only_pending_failed  # a failed verdict, though not a failed build


def test_in_a_whole_run_a_cell_with_no_result_fails_the_verdict_by_name() -> None:
    missing = ALL_CELLS[2]
    results = [result for result in matrix() if result.cell != missing]

    verdict = judge(results, ALL_CELLS, whole=True)

    assert not verdict.success
    assert verdict.missing == (missing,)
    assert f"{missing}: did not run (no result in this run)" in verdict.pacts[0].problems
    assert not verdict.only_pending_failed
    assert any(f"cells with no result: {missing}" in line for line in verdict.lines())


def test_part_of_the_matrix_gives_no_verdict_and_names_the_cells_not_run() -> None:
    left_out = ALL_CELLS[:2]
    results = [result for result in matrix() if result.cell not in left_out]

    with pytest.raises(VerdictError, match="part of the matrix") as refused:
        judge(results, ALL_CELLS, whole=False)

    assert f"not run: {', '.join(left_out)}" in str(refused.value)
    assert "nox -s verify" in str(refused.value)


def test_results_of_two_runs_give_no_verdict() -> None:
    stale = ALL_CELLS[0]
    results = [
        dataclasses.replace(result, run="an earlier run") if result.cell == stale else result
        for result in matrix()
    ]

    with pytest.raises(VerdictError, match="more than one run"):
        judge(results, ALL_CELLS, whole=True)


def test_a_cell_that_crashed_or_verified_part_of_a_pact_fails_the_verdict() -> None:
    crashed, partial = ALL_CELLS[0], ALL_CELLS[1]
    results = []
    for result in matrix():
        if result.cell == crashed:
            result = dataclasses.replace(result, interactions=(), pacts=(), error="provider died")
        if result.cell == partial:
            result = dataclasses.replace(result, interactions=result.interactions[:1])
        results.append(result)

    (pact,) = judge(results, ALL_CELLS, whole=True).pacts

    assert f"{crashed}: provider died" in pact.problems
    assert f"{partial}: interaction i2 was not verified" in pact.problems
    assert crashed not in pact.passed
    assert partial not in pact.passed


def test_a_pact_with_no_interactions_is_never_verified() -> None:
    empty = dataclasses.replace(PACT, interaction_ids=())
    results = [dataclasses.replace(result, pacts=(empty,)) for result in matrix()]

    (pact,) = judge(results, ALL_CELLS, whole=True).pacts

    assert not pact.success
    assert pact.passed == ()


def test_a_filtered_cell_gives_no_verdict() -> None:
    results = [dataclasses.replace(matrix()[0], filtered=True), *matrix()[1:]]

    with pytest.raises(VerdictError, match="filter"):
        judge(results, ALL_CELLS, whole=True)


def test_results_of_two_provider_versions_give_no_verdict() -> None:
    results = [dataclasses.replace(matrix()[0], provider_version="v2"), *matrix()[1:]]

    with pytest.raises(VerdictError, match="more than one provider version") as refused:
        judge(results, ALL_CELLS, whole=True)

    # It names which cell verified which version, and what to do.
    message = str(refused.value)
    assert f"{results[0].provider} v2: {results[0].cell}" in message
    assert "work tree changed while the cells ran" in message


def test_no_result_gives_no_verdict() -> None:
    with pytest.raises(VerdictError, match="no cell results"):
        judge([], ALL_CELLS, whole=True)


def test_a_single_failing_cell_fails_the_verdict() -> None:
    lone = ALL_CELLS[-1]
    results = [
        dataclasses.replace(result, interactions=(outcome("i1"), outcome("i2", success=False)))
        if result.cell == lone
        else result
        for result in matrix()
    ]

    verdict = judge(results, ALL_CELLS, whole=True)

    assert not verdict.success
    assert verdict.pacts[0].passed == ALL_CELLS[:-1]


def test_the_broker_s_notices_survive_the_result_file_and_may_differ_between_cells() -> None:
    # Each cell's notices name the URL of the broker it asked, which differs from cell to cell.
    results = [
        dataclasses.replace(
            result,
            pacts=(dataclasses.replace(PACT, notices=(f"The pact at http://127.0.0.1:{port}/",)),),
        )
        for port, result in enumerate(matrix(), start=40000)
    ]
    written = [CellResult.from_json(result.to_json()) for result in results]

    assert [result.pacts[0].notices for result in written] == [
        result.pacts[0].notices for result in results
    ]
    (pact,) = judge(written, ALL_CELLS, whole=True).pacts
    assert pact.success
    assert pact.passed == ALL_CELLS
