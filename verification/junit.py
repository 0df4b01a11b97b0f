"""A cell's verification as JUnit XML, so that CI shows which interaction failed and why.

One `<testcase>` per interaction, named by consumer, description and provider states, with
the cell as its class name. A failed interaction carries its mismatches in `<failure>`; a
pending one that failed is `<skipped>` (the verifier does not fail the build for it, but
it must still be visible). A cell that failed without an interaction to blame (no pacts,
a broker that did not answer) gets a testcase with an `<error>`, so that CI never shows an
empty suite as green.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from verification.results import CellResult, InteractionOutcome

# XML 1.0 cannot carry most control characters, not even escaped; mismatch text and
# verifier output come from providers and terminals and may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with each character XML 1.0 cannot hold shown as an escape like `\\x1b`."""
    return _NOT_XML.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def junit_xml(result: CellResult) -> ET.ElementTree[ET.Element]:
    """The JUnit XML of one cell: a `<testsuites>` holding the cell's one `<testsuite>`."""
    cases = [_interaction_case(result.cell, outcome) for outcome in result.interactions]
    problem = _cell_problem(result)
    if problem is not None:
        cases.append(_error_case(result, problem))

    suite = ET.Element("testsuite", name=result.cell)
    suite.append(_properties(_suite_properties(result)))
    suite.extend(cases)
    totals = {
        "tests": str(len(cases)),
        "failures": str(sum(case.find("failure") is not None for case in cases)),
        "errors": str(sum(case.find("error") is not None for case in cases)),
        "skipped": str(sum(case.find("skipped") is not None for case in cases)),
        "time": f"{result.seconds:.3f}",
    }
    suite.attrib.update(totals)
    suites = ET.Element("testsuites", name="pact-matrix", attrib=totals)
    suites.append(suite)
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(result: CellResult, directory: Path) -> Path:
    """Write `<directory>/<cell>.junit.xml`, next to the cell's JSON result."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.cell}.junit.xml"
    # Write then rename, like the JSON result: a CI upload never sees half a file.
    partial = path.with_name(path.name + ".partial")
    junit_xml(result).write(partial, encoding="utf-8", xml_declaration=True)
    partial.replace(path)
    return path


def _interaction_case(cell: str, outcome: InteractionOutcome) -> ET.Element:
    case = ET.Element("testcase", classname=cell, name=xml_text(outcome.name))
    if outcome.duration_ms is not None:
        case.set("time", f"{outcome.duration_ms / 1000:.3f}")
    properties = {"consumer": outcome.consumer, "description": outcome.description}
    properties |= {f"state.{n}": state for n, state in enumerate(outcome.states, start=1)}
    if outcome.pending:
        properties["pending"] = "true"
    case.append(_properties(properties))
    if outcome.success:
        return case
    details = xml_text("\n".join(outcome.mismatches) or "(the verifier gave no detail)")
    count = f"{len(outcome.mismatches)} mismatch(es)" if outcome.mismatches else "failed"
    if outcome.pending:
        # Pending: a new expectation the provider need not meet yet; shown, not failed.
        skipped = ET.SubElement(case, "skipped", message=f"pending interaction {count}")
        skipped.text = details
    else:
        failure = ET.SubElement(case, "failure", message=count, type="pact mismatch")
        failure.text = details
    return case


def _cell_problem(result: CellResult) -> str | None:
    """Why the cell failed, when no failed interaction already says so."""
    if result.error:
        return result.error
    if not result.interactions:
        return "the cell verified no interactions"
    if not result.success and not result.failed:
        return "the cell failed, but no interaction failed"
    return None


def _error_case(result: CellResult, problem: str) -> ET.Element:
    case = ET.Element("testcase", classname=result.cell, name=f"{result.cell}: verification")
    error = ET.SubElement(
        case, "error", message=xml_text(problem.splitlines()[0]), type="verification error"
    )
    error.text = xml_text(f"{problem}\n\n{result.report}".strip())
    return case


def _suite_properties(result: CellResult) -> dict[str, str]:
    properties = {
        "framework": result.framework,
        "python": result.python,
        "provider": result.provider,
        "provider_version": result.provider_version,
        "provider_branch": result.provider_branch or "",
        "broker": result.broker,
        "run": result.run or "",
    }
    properties |= {f"pact.{n}": pact.url for n, pact in enumerate(result.pacts, start=1)}
    return properties


def _properties(values: dict[str, str]) -> ET.Element:
    properties = ET.Element("properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    return properties
