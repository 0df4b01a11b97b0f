"""The matrix report: every cell shown, each status said plainly, nothing from providers obeyed."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Callable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from matrix import ALL_CELLS, FRAMEWORKS, LEFT_OUT, PYTHONS, SERIES, cell_name, oldest
from verification import run
from verification.__main__ import main
from verification.report import (
    NoxRecord,
    Status,
    build,
    html_page,
    load_nox_reports,
    markdown,
    run_facts,
)
from verification.results import CellResult, InteractionOutcome

# The grid's rows are framework series; these run on every Python.
ROWS = [oldest(framework).name for framework in FRAMEWORKS]
assert len(SERIES) > len(ROWS), "a framework with two series (Django) is in the grid"

MakeCell = Callable[..., CellResult]
MakeInteraction = Callable[..., InteractionOutcome]
HOSTILE = "<script>alert('x')</script> | `code` $x$ [link](http://evil.test) **bold**"


def nox_session(cell: str, result_code: int, reason: str | None = None) -> dict[str, Any]:
    """One session as `nox --report` writes it."""
    return {
        "name": "verify",
        "signatures": [cell, cell.split("(")[0]],
        "args": {},
        "result": "?",
        "result_code": result_code,
        "reason": reason,
        "duration": 42.5,
    }


def write_nox_report(path: Path, *sessions: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"result": 0, "sessions": list(sessions)}))
    return path


def record(cell: str, status: Status, reason: str | None = None) -> NoxRecord:
    return NoxRecord(session=cell, status=status, reason=reason, seconds=42.5)


@pytest.mark.parametrize(
    ("result_code", "status"),
    [(1, Status.PASSED), (0, Status.FAILED), (2, Status.SKIPPED), (-1, Status.ABORTED)],
)
def test_nox_result_codes_are_mapped_one_by_one(
    result_code: int, status: Status, tmp_path: Path
) -> None:
    path = write_nox_report(tmp_path / "r.json", nox_session("verify-3.12(flask-3.1)", result_code))
    assert load_nox_reports([path])["verify-3.12(flask-3.1)"].status is status


def test_an_unknown_nox_result_code_is_refused(tmp_path: Path) -> None:
    path = write_nox_report(tmp_path / "r.json", nox_session("verify-3.12(flask-3.1)", 3))
    with pytest.raises(ValueError, match="unknown nox result_code 3"):
        load_nox_reports([path])


def test_the_grid_is_every_framework_on_every_python() -> None:
    report = build([], {})
    assert report.frameworks == tuple(series.name for series in SERIES)
    assert report.pythons == tuple(PYTHONS)
    assert {cell.cell for cell in report.cells} == {*ALL_CELLS, *LEFT_OUT}
    assert {cell.status for cell in report.cells} == {Status.NOT_RUN, Status.LEFT_OUT}
    assert all((cell.status is Status.LEFT_OUT) == (cell.cell in LEFT_OUT) for cell in report.cells)


@pytest.mark.parametrize(
    ("has_result", "cell_passed", "nox_status", "expected"),
    [
        (False, None, None, Status.NOT_RUN),
        (True, True, None, Status.PASSED),
        (True, False, None, Status.FAILED),
        (True, True, Status.PASSED, Status.PASSED),
        (True, False, Status.PASSED, Status.FAILED),
        # The verification passed but the session did not (the consumer tests failed, say).
        (True, True, Status.FAILED, Status.FAILED),
        (False, None, Status.FAILED, Status.FAILED),
        # A session that passed without a result verified nothing that anyone can see.
        (False, None, Status.PASSED, Status.FAILED),
        (False, None, Status.SKIPPED, Status.SKIPPED),
        (False, None, Status.ABORTED, Status.ABORTED),
    ],
)
def test_a_cells_status_comes_from_its_result_and_its_nox_record(
    make_cell: MakeCell,
    make_interaction: MakeInteraction,
    has_result: bool,
    cell_passed: bool | None,
    nox_status: Status | None,
    expected: Status,
) -> None:
    name = cell_name("3.12", "flask-3.1")
    results = []
    if has_result:
        interactions = [make_interaction("a request", success=bool(cell_passed))]
        results.append(make_cell("3.12", "flask-3.1", interactions))
    records = {} if nox_status is None else {name: record(name, nox_status)}

    report = build(results, records)
    assert report.cell("flask-3.1", "3.12").status is expected


def test_a_skipped_cell_says_why() -> None:
    name = cell_name("3.13", "fastapi-0.165")
    report = build([], {name: record(name, Status.SKIPPED, "Python interpreter 3.13 not found")})
    cell = report.cell("fastapi-0.165", "3.13")
    assert cell.note == "Python interpreter 3.13 not found"
    assert "⏭️ `verify-3.13(fastapi-0.165)`: Python interpreter 3.13 not found" in markdown(report)


def grid_rows(text: str) -> dict[str, list[str]]:
    """The Markdown grid's rows by framework: each cell's text."""
    rows = {}
    for line in text.splitlines():
        columns = [c.strip().replace("\\", "") for c in line.strip("|").split(" | ")]
        if columns[0] in {series.name for series in SERIES}:
            rows[columns[0]] = columns[1:]
    return rows


def test_the_markdown_grid_shows_status_interactions_and_seconds(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction("a request to create a user", success=False, mismatches=["status"])
    passed_cell = make_cell(PYTHONS[0], ROWS[0], seconds=3.25)
    failed_cell = make_cell(PYTHONS[0], ROWS[1], [*passed_cell.interactions[:2], failed])
    skipped = cell_name(PYTHONS[-1], ROWS[0])
    records = {
        failed_cell.cell: record(failed_cell.cell, Status.FAILED),
        skipped: record(skipped, Status.SKIPPED, "Python interpreter not found"),
    }
    text = markdown(build([passed_cell, failed_cell], records))

    header = next(line for line in text.splitlines() if line.startswith("| framework"))
    assert header == "| framework | " + " | ".join(f"Python {p}" for p in PYTHONS) + " |"
    rows = grid_rows(text)
    assert set(rows) == {series.name for series in SERIES}
    assert all(len(row) == len(PYTHONS) for row in rows.values())
    assert rows[ROWS[0]][0] == "✅ passed<br>3 verified<br>3.2 s"
    assert rows[ROWS[1]][0] == "❌ failed<br>3 verified, 1 failed<br>42.5 s"
    assert rows[ROWS[0]][-1] == "⏭️ skipped<br>42.5 s"
    assert rows[ROWS[1]][-1] == "⬜ not run"
    total, left_out = len(ALL_CELLS) + len(LEFT_OUT), len(LEFT_OUT)
    assert (
        f"**{total} cells:** 1 passed, 1 failed, 1 skipped, 0 aborted, {total - 3 - left_out} not "
        f"run, {left_out} left out"
    ) in text
    # A combination the matrix leaves out says why, and is no problem to list.
    left = next(iter(LEFT_OUT))
    reason = html.escape(LEFT_OUT[left], quote=False)
    assert f"🚫 left out<br>{reason}" in text.replace("\\", "")
    assert f"`{left}`" not in text


def test_skipped_is_never_shown_as_passed() -> None:
    cell = cell_name("3.12", "flask-3.1")
    text = markdown(build([], {cell: record(cell, Status.SKIPPED)}))
    assert "✅" not in grid_rows(text)["flask-3.1"][PYTHONS.index("3.12")]
    assert "0 passed, 0 failed, 1 skipped" in text


def test_the_markdown_lists_each_failed_interaction_and_the_comparison(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction(
        "a request for user 1",
        "user 1 exists",
        success=False,
        mismatches=["body $.id: Expected 1", "header: Expected JSON"],
    )
    text = markdown(
        build([make_cell("3.12", "flask-3.1"), make_cell("3.12", "fastapi-0.165", [failed])], {})
    )

    assert (
        "- ❌ `verify-3.12(fastapi-0.165)`: UserConsumer: a request for user 1 given user 1 "
        "exists: body \\$.id: Expected 1 (and 1 more)"
    ) in text
    assert "**Cross-cell comparison:** ❌ " in text
    assert "disagreement: UserConsumer: a request for user 1" in text


def test_provider_text_is_shown_literally_in_markdown(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction(HOSTILE, success=False, mismatches=[HOSTILE + "\nsecond line"])
    text = markdown(build([make_cell("3.12", "flask-3.1", [failed])], {}))

    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "](http" not in text  # no link
    assert "\\$x\\$" in text  # no maths
    assert "\\| \\`code\\`" in text  # no table cell break, no code span
    assert "second line" in text  # one line per item: a newline would end the list item
    problem_lines = [line for line in text.splitlines() if "alert" in line]
    assert all(line.startswith("- ") for line in problem_lines)


class PageParser(HTMLParser):
    """What a browser would make of the page: its elements, attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


def test_the_html_page_is_self_contained_and_escapes_provider_text(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction(HOSTILE, success=False, mismatches=[HOSTILE])
    result = make_cell("3.12", "flask-3.1", [failed], error=HOSTILE, report=HOSTILE)
    page = parse(html_page(build([result], {})))

    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    assert not {"link", "img", "iframe", "object"} & set(tags)
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
    assert sum(HOSTILE in text for text in page.text) >= 3  # shown as text, each time


def test_the_html_grid_has_one_coloured_cell_per_framework_and_python(
    make_cell: MakeCell, make_interaction: MakeInteraction
) -> None:
    failed = make_interaction("a request", success=False, mismatches=["status: 500"])
    skipped = cell_name("3.13", "fastapi-0.165")
    report = build(
        [make_cell("3.11", "flask-3.1"), make_cell("3.12", "fastapi-0.165", [failed])],
        {skipped: record(skipped, Status.SKIPPED)},
    )
    page = html_page(report)
    cells = {
        attrs["data-cell"]: (attrs["data-status"], attrs["class"])
        for tag, attrs in parse(page).tags
        if tag == "td"
    }

    assert set(cells) == {*ALL_CELLS, *LEFT_OUT}
    assert cells["verify-3.11(flask-3.1)"] == ("passed", "status-passed")
    assert cells["verify-3.12(fastapi-0.165)"] == ("failed", "status-failed")
    assert cells["verify-3.13(fastapi-0.165)"] == ("skipped", "status-skipped")
    assert cells["verify-3.13(flask-3.1)"] == ("not run", "status-not-run")
    # Each status has a colour of its own in the page's stylesheet.
    colours = dict(re.findall(r"\.status-([a-z-]+) \{ background: (#[0-9a-f]{6});", page))
    assert set(colours) == {status.name.lower().replace("_", "-") for status in Status}
    assert len(set(colours.values())) == len(Status)
    assert "status: 500" in page


def test_the_report_command_writes_markdown_and_html_from_results_and_nox_reports(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    make_cell("3.11", "flask-3.1").write(results)
    skipped = cell_name("3.13", "fastapi-0.165")
    write_nox_report(results / "nox" / "verify.json", nox_session(skipped, 2, "no 3.13"))

    status = main(
        [
            "report",
            "--results",
            str(results),
            "--markdown",
            str(tmp_path / "out" / "report.md"),
            "--html",
            str(tmp_path / "report.html"),
        ]
    )

    assert status == 0
    text = (tmp_path / "out" / "report.md").read_text("utf-8")
    assert "✅ passed<br>3 verified" in text
    assert "⏭️ skipped" in text  # from results/nox/ by default
    assert 'data-cell="verify-3.11(flask-3.1)" data-status="passed"' in (
        tmp_path / "report.html"
    ).read_text("utf-8")
    assert "wrote" in capsys.readouterr().out


def test_the_report_command_prints_markdown_and_reads_named_nox_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aborted = cell_name("3.11", "fastapi-0.165")
    nox_report = write_nox_report(tmp_path / "elsewhere.json", nox_session(aborted, -1))

    status = main(["report", "--results", str(tmp_path / "none"), "--nox-report", str(nox_report)])

    assert status == 0
    assert "⛔ aborted" in capsys.readouterr().out


def test_results_of_one_provider_version_name_it_once(make_cell: MakeCell) -> None:
    report = build([make_cell("3.12", "flask-3.1"), make_cell("3.13", "fastapi-0.165")], {})

    # Markdown escapes the brackets.
    assert r"Provider UserProvider 0123abc \(main\)" in markdown(report)
    assert "more than one provider version" not in markdown(report)


def test_results_left_over_from_another_version_are_said_to_be_so(make_cell: MakeCell) -> None:
    # `nox -s "verify-3.13(fastapi-0.165)"` after a commit: the other cells' files are older.
    current = make_cell("3.13", "fastapi-0.165")
    earlier = dataclasses.replace(make_cell("3.12", "flask-3.1"), provider_version="9876fed")
    report = build([current, earlier], {})

    text = markdown(report)
    assert "Provider UserProvider" not in text
    assert (
        r"**These results are of more than one provider version:** "
        r"UserProvider 9876fed \(main\): `verify-3.12(flask-3.1)`; "
        r"UserProvider 0123abc \(main\): `verify-3.13(fastapi-0.165)`"
    ) in text
    page = parse(html_page(report))
    assert ("p", {"class": "provider mixed", "id": "mixed-providers"}) in page.tags
    said = " ".join("".join(page.text).split())
    assert "UserProvider 9876fed (main): verify-3.12(flask-3.1);" in said
    assert "UserProvider 0123abc (main): verify-3.13(fastapi-0.165)" in said


def a_run_folder(tmp_path: Path, make_cell: MakeCell, cells: Sequence[str]) -> Path:
    """A run as `nox -s verify` leaves it: its cells' records and result files."""
    ran = run.Run.named("20261206T010203-cafe0123", tmp_path / "runs")
    for series in SERIES:
        for python in series.pythons:
            if cell_name(python, series.name) in cells:
                with ran.cell(cell_name(python, series.name), fail=pytest.fail):
                    make_cell(python, series.name).write(ran.folder)
    return ran.folder


def report_of(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["report", "--results", str(folder)]) == 0
    return capsys.readouterr().out


def test_the_report_shows_the_runs_verdict_can_i_deploy_run_and_time(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = a_run_folder(tmp_path, make_cell, ALL_CELLS)
    run.VerdictSummary(
        success=True, pacts=("UserConsumer pact 9cdd381a: verified, 9 of 9 cells passed",),
        published=True, can_i_deploy=True,
    ).write(run.Run(folder.name, folder).verdict_file)  # fmt: skip
    text = report_of(folder, capsys)

    assert "✅ **Verdict: verified, and published.**" in text
    assert "- UserConsumer pact 9cdd381a: verified, 9 of 9 cells passed" in text
    assert "`pact broker can-i-deploy` says yes." in text
    assert re.search(r"Run `20261206T010203-cafe0123`, started \S+ UTC", text), text
    # The session column comes from the run's own record of each cell: no nox report needed.
    session_seconds = [row.split("|")[6].strip() for row in text.splitlines()
                       if row.startswith("| `verify-")]  # fmt: skip
    assert len(session_seconds) == len(ALL_CELLS)
    assert "-" not in session_seconds


def test_a_verdict_that_was_not_published_says_why(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = a_run_folder(tmp_path, make_cell, ALL_CELLS)
    run.VerdictSummary(success=False, not_published="the broker refused it with 403").write(
        run.Run(folder.name, folder).verdict_file
    )
    text = report_of(folder, capsys)
    assert "❌ **Verdict: NOT verified, but NOT published: the broker refused it with 403.**" in (
        text
    )


def test_a_partial_run_is_marked_and_names_the_cells_it_did_not_run(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = a_run_folder(tmp_path, make_cell, ALL_CELLS[:1])
    text = report_of(folder, capsys)
    assert "⚠️ **No verdict:** run 20261206T010203\\-cafe0123 is part of the matrix" in text
    assert "Verdict: verified" not in text
    facts = run_facts(folder)
    assert facts is not None
    assert not facts.judged
    assert f"Not run: {', '.join(ALL_CELLS[1:])}" in facts.verdict[0]


def test_results_without_a_run_folder_say_no_verdict_was_recorded(
    make_cell: MakeCell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cell("3.11", "flask-3.1").write(tmp_path / "results")
    assert "No run folder: no verdict recorded." in report_of(tmp_path / "results", capsys)
