"""JUnit XML: one testcase per interaction, and never a green suite for a cell that failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from verification.junit import junit_xml, write_junit
from verification.results import CellResult, InteractionOutcome

MakeCell = Callable[..., CellResult]
MakeInteraction = Callable[..., InteractionOutcome]


def suite_of(result: CellResult) -> ET.Element:
    # Serialised and parsed again, as a CI system would read the file.
    root = ET.fromstring(ET.tostring(junit_xml(result).getroot(), encoding="unicode"))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    return suite


def counts(suite: ET.Element) -> dict[str, str]:
    return {key: suite.attrib[key] for key in ("tests", "failures", "errors", "skipped")}


def test_each_interaction_is_a_testcase_named_by_consumer_description_and_state(
    make_cell: MakeCell,
) -> None:
    result = make_cell("3.12", "fastapi-0.165")
    suite = suite_of(result)

    cases = suite.findall("testcase")
    assert [case.attrib["name"] for case in cases] == [
        "UserConsumer: a request for user 1 given user 1 exists",
        "UserConsumer: a request for a missing user given user 99 does not exist",
        "UserConsumer: a request to create a user",
    ]
    assert {case.attrib["classname"] for case in cases} == {"verify-3.12(fastapi-0.165)"}
    assert suite.attrib["name"] == "verify-3.12(fastapi-0.165)"
    assert counts(suite) == {"tests": "3", "failures": "0", "errors": "0", "skipped": "0"}
    assert cases[0].attrib["time"] == "0.007"
    assert not [e for case in cases for e in case if e.tag in {"failure", "error", "skipped"}]


def test_a_failed_interaction_carries_its_mismatches(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    mismatches = ("body $.id: Expected 1 but was '1'", "header Content-Type: Expected JSON")
    failed = make_interaction(
        "a request for user 1", "user 1 exists", success=False, mismatches=mismatches
    )
    suite = suite_of(make_cell(interactions=[failed, make_interaction("another request")]))

    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.text == "\n".join(mismatches)
    assert failure.attrib["message"] == "2 mismatch(es)"
    assert counts(suite) == {"tests": "2", "failures": "1", "errors": "0", "skipped": "0"}


def test_a_pending_interaction_that_failed_is_skipped_not_failed(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    pending = make_interaction(
        "a new request",
        success=False,
        pending=True,
        mismatches=["status: Expected 201 but was 404"],
    )
    result = make_cell(interactions=[pending, make_interaction("an old request")])
    assert result.success  # the verifier does not fail the build for it
    suite = suite_of(result)

    skipped = suite.find("testcase/skipped")
    assert skipped is not None
    assert skipped.text == "status: Expected 201 but was 404"
    assert "pending" in skipped.attrib["message"]
    assert suite.find("testcase/failure") is None
    assert suite.find("testcase/properties/property[@name='pending']") is not None
    assert counts(suite) == {"tests": "2", "failures": "0", "errors": "0", "skipped": "1"}


def test_a_cell_that_failed_without_interactions_is_an_error_not_an_empty_suite(
    make_cell: MakeCell,
) -> None:
    error = "the broker selected no pacts for UserProvider\nselectors: mainBranch"
    suite = suite_of(make_cell(interactions=[], pacts=[], error=error, report="the log"))

    [case] = suite.findall("testcase")
    element = case.find("error")
    assert element is not None
    assert element.attrib["message"] == "the broker selected no pacts for UserProvider"
    assert element.text is not None
    assert error in element.text
    assert "the log" in element.text
    assert counts(suite) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}


def test_zero_interactions_without_an_error_is_still_an_error(make_cell: MakeCell) -> None:
    suite = suite_of(make_cell(interactions=[]))
    assert suite.find("testcase/error") is not None
    assert suite.attrib["errors"] == "1"


def test_a_cell_error_beside_interactions_is_reported_too(make_cell: MakeCell) -> None:
    suite = suite_of(make_cell(error="verification results were not published"))
    assert suite.attrib["tests"] == "4"
    assert suite.attrib["errors"] == "1"


def test_provider_text_that_xml_cannot_hold_still_gives_a_valid_file(
    make_cell: MakeCell, make_interaction: MakeInteraction, tmp_path: Path
) -> None:
    text = "body: <script>alert(1)</script> ]]> & \x1b[31mred\x1b[0m \x00 é"
    failed = make_interaction("a <b>bold</b> request", success=False, mismatches=[text])
    path = write_junit(make_cell(interactions=[failed]), tmp_path)

    failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.text == "body: <script>alert(1)</script> ]]> & \\x1b[31mred\\x1b[0m \\x00 é"


def test_the_file_goes_next_to_the_json_result(make_cell: MakeCell, tmp_path: Path) -> None:
    result = make_cell("3.11", "flask-3.1")
    json_path = result.write(tmp_path)
    path = write_junit(result, tmp_path)

    assert path == tmp_path / "verify-3.11(flask-3.1).junit.xml"
    assert path.parent == json_path.parent
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "verify-3.11(flask-3.1).json",
        "verify-3.11(flask-3.1).junit.xml",
    ]
    assert path.read_text("utf-8").startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert (
        ET.parse(path).getroot().find("testsuite/properties/property[@name='pact.1']") is not None
    )
