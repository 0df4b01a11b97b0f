"""One verdict for the whole matrix: a provider version is verified only if every cell passed.

No cell publishes its own results (each would overwrite the last one's answer in the broker,
and a pact's pending status would change between the cells of one run). After the cells
have run, their result files are judged together: for each pact the cells verified, the
verdict is a success only when every cell of the matrix (every framework on every supported
Python, as pyproject.toml declares them) verified every interaction of that pact and passed.
A cell that did not run, crashed or had no interpreter has no result, and fails the verdict
by name. Pending never changes the verdict: it decides only whether a failing cell fails
the build.

The verdict is published as the real verifiers publish theirs: the provider version is put
on its branch (`pb:branch-version` of the provider), then one verification result per pact
goes to the pact's `pb:publish-verification-results` relation, with a test result per cell
and interaction.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from verification.broker_api import BrokerEndpoint, BrokerError, json_of, link
from verification.results import CellResult, InteractionOutcome, PactRef

# What the verdict says it was verified by, beside the Rust verifier's own "Pact-Rust".
VERIFIED_BY = {"implementation": "pact-matrix", "version": "0.1.0"}


class VerdictError(RuntimeError):
    """No verdict can be drawn from these results, or publishing it failed."""


@dataclass(frozen=True)
class PactVerdict:
    """The matrix's answer for one pact."""

    pact: PactRef
    expected: tuple[str, ...]
    passed: tuple[str, ...]
    # One line per cell that did not pass: which interaction, which mismatch, or why.
    problems: tuple[str, ...]
    test_results: tuple[dict[str, Any], ...]

    @property
    def success(self) -> bool:
        return self.passed == self.expected

    def line(self) -> str:
        outcome = "verified" if self.success else "FAILED"
        version = f" (version {self.pact.consumer_version})" if self.pact.consumer_version else ""
        return (
            f"{self.pact.consumer}{version} pact {self.pact.short_sha}: {outcome}, "
            f"{len(self.passed)} of {len(self.expected)} cells passed"
        )


@dataclass(frozen=True)
class Verdict:
    provider: str
    provider_version: str
    provider_branch: str | None
    pacts: tuple[PactVerdict, ...]
    # Cells of the matrix without a result in this run.
    missing: tuple[str, ...]

    @property
    def success(self) -> bool:
        return bool(self.pacts) and not self.missing and all(pact.success for pact in self.pacts)

    @property
    def only_pending_failed(self) -> bool:
        """Whether every pact that failed is pending: a failed verdict, but not a failed build."""
        failed = [pact for pact in self.pacts if not pact.success]
        return bool(failed) and not self.missing and all(pact.pact.pending for pact in failed)

    def lines(self) -> list[str]:
        head = "verified" if self.success else "NOT verified"
        lines = [f"Verdict: {self.provider} {self.provider_version} is {head}."]
        lines += [f"  {pact.line()}" for pact in self.pacts]
        if self.missing:
            lines.append(f"  cells with no result: {', '.join(self.missing)}")
        for pact in self.pacts:
            lines += [f"  {problem}" for problem in pact.problems]
        return lines


def judge(results: Sequence[CellResult], expected: Sequence[str], *, whole: bool) -> Verdict:
    """The verdict of one run's cells over the `expected` cells of the matrix.

    `whole`: the run attempted every cell, so a cell without a result (crashed, no
    interpreter) failed. Otherwise a run that lacks a cell's result is part of the matrix,
    and no verdict can be drawn from it.
    """
    if not results:
        raise VerdictError("no cell results: nothing to judge (run the cells first)")
    runs = sorted({str(result.run) for result in results})
    if len(runs) > 1:
        raise VerdictError(
            f"the results are of more than one run ({', '.join(runs)}): judge one run at a time"
        )
    versions = {(result.provider, result.provider_version) for result in results}
    if len(versions) > 1:
        # Within one run, the version moves when the work tree does: an edit (or a commit)
        # while the cells ran, so they verified different code.
        cells_of = {
            f"{provider} {version}": ", ".join(
                sorted(r.cell for r in results if r.provider_version == version)
            )
            for provider, version in sorted(versions)
        }
        raise VerdictError(
            "the results are of more than one provider version ("
            + "; ".join(f"{version}: {cells}" for version, cells in cells_of.items())
            + "): the work tree changed while the cells ran. Nothing was published: "
            "run the matrix again on a tree that stays as it is"
        )
    filtered = sorted(result.cell for result in results if result.filtered)
    if filtered:
        raise VerdictError(
            f"{', '.join(filtered)} verified only the interactions a filter chose "
            "(PACT_DESCRIPTION, PACT_PROVIDER_STATE, PACT_PROVIDER_NO_STATE): no verdict"
        )
    if not whole:
        absent = [cell for cell in expected if cell not in {result.cell for result in results}]
        if absent:
            raise VerdictError(
                f"part of the matrix: {len(expected) - len(absent)} of {len(expected)} cells "
                f"have a result; not run: {', '.join(absent)}. Nothing was published: "
                "`nox -s verify` runs every cell and publishes the verdict"
            )
    by_cell = {result.cell: result for result in results if result.cell in expected}
    missing = tuple(cell for cell in expected if cell not in by_cell)
    pacts: dict[str, PactRef] = {}
    for result in by_cell.values():
        for pact in result.pacts:
            pacts.setdefault(pact.content, pact)
    first = results[0]
    return Verdict(
        provider=first.provider,
        provider_version=first.provider_version,
        provider_branch=first.provider_branch,
        pacts=tuple(_judge_pact(pact, expected, by_cell) for _, pact in sorted(pacts.items())),
        missing=missing,
    )


def _judge_pact(
    pact: PactRef, expected: Sequence[str], by_cell: dict[str, CellResult]
) -> PactVerdict:
    passed: list[str] = []
    problems: list[str] = []
    test_results: list[dict[str, Any]] = []
    for cell in expected:
        result = by_cell.get(cell)
        reason = _why_not_verified(pact, result)
        if reason is not None:
            problems.append(f"{cell}: {reason}")
            test_results += [
                _test_result(cell, id_, False, [reason]) for id_ in pact.interaction_ids
            ]
            continue
        assert result is not None
        outcomes = {item.interaction_id: item for item in result.interactions}
        failures = []
        for interaction_id in pact.interaction_ids:
            outcome = outcomes.get(interaction_id)
            if outcome is None:
                failures.append(f"{cell}: interaction {interaction_id} was not verified")
                test_results.append(_test_result(cell, interaction_id, False, ["not verified"]))
                continue
            test_results.append(_outcome_result(cell, outcome))
            if not outcome.success:
                mismatch = "; ".join(outcome.mismatches) or "failed"
                failures.append(f"{cell}: {outcome.name}: {mismatch}")
        if result.error is not None:
            failures.append(f"{cell}: {result.error}")
        problems += failures
        if not failures:
            passed.append(cell)
    return PactVerdict(pact, tuple(expected), tuple(passed), tuple(problems), tuple(test_results))


def _why_not_verified(pact: PactRef, result: CellResult | None) -> str | None:
    if result is None:
        return "did not run (no result in this run)"
    if pact.content not in {mine.content for mine in result.pacts}:
        return result.error or "was not given this pact to verify"
    if not pact.interaction_ids:
        return "the pact has no interactions: nothing was verified"
    return None


def _test_result(
    cell: str, interaction_id: str, success: bool, mismatches: Iterable[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {"cell": cell, "interactionId": interaction_id, "success": success}
    problems = [{"description": text} for text in mismatches]
    if problems:
        result["mismatches"] = problems
    return result


def _outcome_result(cell: str, outcome: InteractionOutcome) -> dict[str, Any]:
    assert outcome.interaction_id is not None
    result = _test_result(cell, outcome.interaction_id, outcome.success, outcome.mismatches)
    result["interactionDescription"] = outcome.description
    if not outcome.success and not outcome.mismatches:
        result["mismatches"] = [{"description": "failed"}]
    return result


def rebased(verdict: Verdict, base_url: str) -> Verdict:
    """The verdict with its pact URLs on `base_url`: an embedded broker started again (for a
    verdict drawn later) listens on another port than the one the cells were given."""
    pacts = tuple(
        replace(
            pact, pact=replace(pact.pact, url=base_url.rstrip("/") + urlsplit(pact.pact.url).path)
        )
        for pact in verdict.pacts
    )
    return replace(verdict, pacts=pacts)


def result_body(verdict: Verdict, pact: PactVerdict, build_url: str | None) -> dict[str, Any]:
    """The body of the verification result, in the fields the real verifiers send."""
    body: dict[str, Any] = {
        "providerApplicationVersion": verdict.provider_version,
        "success": pact.success,
        "testResults": list(pact.test_results),
        "verifiedBy": {**VERIFIED_BY, "python": platform.python_version()},
    }
    if build_url:
        body["buildUrl"] = build_url
    return body


def publish(endpoint: BrokerEndpoint, verdict: Verdict, *, build_url: str | None) -> list[str]:
    """Publish the verdict: the provider version's branch, then one result per pact.

    Returns the URLs of the results the broker created; any refusal raises VerdictError.
    """
    created: list[str] = []
    # As the Rust verifier sends them; the client's Accept is HAL, then JSON, as the verifier's.
    headers = {"Content-Type": "application/json", "Accept-Charset": "utf-8"}
    try:
        with endpoint.client() as client:
            if verdict.provider_branch:
                pacticipant = json_of(
                    client.get(f"/pacticipants/{quote(verdict.provider, safe='')}")
                )
                branch_version = _expand(
                    link(pacticipant, "pb:branch-version"),
                    branch=verdict.provider_branch,
                    version=verdict.provider_version,
                )
                json_of(client.put(branch_version, json={}, headers=headers))
            for pact in verdict.pacts:
                document = json_of(client.get(pact.pact.url))
                target = link(document, "pb:publish-verification-results")
                answer = json_of(
                    client.post(target, json=result_body(verdict, pact, build_url), headers=headers)
                )
                created.append(link(answer, "self"))
    except (httpx.HTTPError, BrokerError) as error:
        raise VerdictError(f"publishing the verdict to {endpoint.url} failed: {error}") from error
    return created


def _expand(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace(f"{{{name}}}", quote(value, safe=""))
    return template
