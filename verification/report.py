"""The whole matrix at a glance: a Markdown table for CI's step summary and an HTML page.

The sources are the cells' results (`results/<cell>.json`) and nox's own record of each
session (`nox --report FILE`), which also knows the cells that never wrote a result:
skipped for a missing interpreter, aborted, or failed before the verification ran. The
grid is every framework series on every Python the project declares; a cell that neither
source mentions is shown as "not run", and one the matrix leaves out (a series' Requires-Python)
as "left out", with the reason.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2

from matrix import LEFT_OUT, PYTHONS, SERIES, cell_name
from verification import run
from verification.compare import Comparison, compare
from verification.results import CellResult


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ABORTED = "aborted"
    NOT_RUN = "not run"
    # A combination the matrix does not declare: the series' Requires-Python leaves it out.
    LEFT_OUT = "left out"


# Where `nox --report` files go: a folder of the results directory, because every *.json
# directly in it is read as a cell's result.
NOX_REPORTS = "nox"

# nox's `result_code` (its `Status` enum), mapped one by one: SKIPPED is 2, which a
# truthiness test would count as a success.
NOX_RESULT_CODES = {1: Status.PASSED, 0: Status.FAILED, 2: Status.SKIPPED, -1: Status.ABORTED}

# The grid's rows: each framework series.
SERIES_NAMES = tuple(series.name for series in SERIES)
# Statuses that need no details below the grid.
QUIET = (Status.PASSED, Status.NOT_RUN, Status.LEFT_OUT)

SYMBOLS = {
    Status.PASSED: "✅",
    Status.FAILED: "❌",
    Status.SKIPPED: "⏭️",
    Status.ABORTED: "⛔",
    Status.NOT_RUN: "⬜",
    Status.LEFT_OUT: "🚫",
}


@dataclass(frozen=True)
class NoxRecord:
    """One session in a `nox --report` file."""

    session: str
    status: Status
    reason: str | None
    seconds: float


@dataclass(frozen=True)
class RunFacts:
    """What the run's own folder says: which run, when, and its verdict or why it has none."""

    id: str
    started: str | None  # UTC, as the run's first cell recorded it
    # The summary's lines ("Verdict: ...", each pact, can-i-deploy's answer), or why no
    # verdict was drawn (part of the matrix, filtered).
    verdict: tuple[str, ...]
    judged: bool
    success: bool


def run_facts(folder: Path) -> RunFacts | None:
    """The facts of the run whose folder is `folder` (`results/runs/<run>/`), if it is one."""
    judged_run = run.Run(folder.name, folder)
    if not judged_run.state.is_dir():
        return None
    started = judged_run.started()
    if judged_run.verdict_file.exists():
        summary = run.VerdictSummary.read(judged_run.verdict_file)
        return RunFacts(folder.name, started, tuple(summary.lines()), True, summary.success)
    why = judged_run.why_no_verdict() or "no verdict was drawn: `nox -s verdict` judges a run"
    return RunFacts(folder.name, started, (why,), False, False)


def cell_records(folder: Path) -> dict[str, NoxRecord]:
    """The noxfile's record of each cell of the run (what it did, how long its session took),
    standing in for `nox --report` files, which a plain `nox -s verify` does not write."""
    statuses = {"passed": Status.PASSED, "failed": Status.FAILED}
    return {
        cell: NoxRecord(
            cell, statuses.get(record.outcome, Status.ABORTED), None, record.seconds or 0.0
        )
        for cell, record in run.Run(folder.name, folder).records().items()
    }


@dataclass(frozen=True)
class CellReport:
    cell: str
    framework: str
    python: str
    status: Status
    result: CellResult | None
    nox: NoxRecord | None
    # Why the cell did not pass, in one line, when the status alone does not say.
    note: str | None

    @property
    def seconds(self) -> float | None:
        """The whole session's time if nox recorded it, else the verification's."""
        if self.nox is not None:
            return self.nox.seconds
        return None if self.result is None else self.result.seconds


@dataclass(frozen=True)
class MatrixReport:
    frameworks: tuple[str, ...]
    pythons: tuple[str, ...]
    cells: tuple[CellReport, ...]
    comparison: Comparison
    # Result files of cells the project no longer declares.
    outside_matrix: tuple[str, ...]
    run: RunFacts | None = None

    def cell(self, framework: str, python: str) -> CellReport:
        return next(c for c in self.cells if c.framework == framework and c.python == python)

    def count(self, status: Status) -> int:
        return sum(cell.status is status for cell in self.cells)

    @property
    def providers(self) -> dict[str, list[str]]:
        """Each provider, version and branch the results name, with the cells that verified it.

        More than one means some results are left over from an earlier run (of another
        commit, say): the report says so rather than show them as one run.
        """
        cells_by_provider: dict[str, list[str]] = {}
        for cell in self.cells:
            if cell.result is not None:
                r = cell.result
                name = f"{r.provider} {r.provider_version} ({r.provider_branch or 'no branch'})"
                cells_by_provider.setdefault(name, []).append(cell.cell)
        return cells_by_provider

    @property
    def pacts(self) -> list[str]:
        """Each pact the cells verified, whose it is, and why it was verified (PACT_URL named
        it, or the broker's selectors chose it)."""
        seen: dict[str, str] = {}
        for cell in self.cells:
            if cell.result is None:
                continue
            for pact in cell.result.pacts:
                version = f" version {pact.consumer_version}" if pact.consumer_version else ""
                why = (
                    f"the pact at PACT_URL {cell.result.pact_url}, and no other"
                    if cell.result.pact_url
                    else "chosen by the broker's selectors" + (", pending" if pact.pending else "")
                )
                seen.setdefault(
                    pact.content, f"{pact.consumer}{version} pact {pact.short_sha}: {why}"
                )
        return list(seen.values())


def load_nox_reports(paths: Iterable[Path]) -> dict[str, NoxRecord]:
    """Each session in these `nox --report` files by its full name (`verify-3.12(flask)`)."""
    records: dict[str, NoxRecord] = {}
    for path in paths:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        for session in data["sessions"]:
            code = session["result_code"]
            if code not in NOX_RESULT_CODES:
                raise ValueError(f"{path}: unknown nox result_code {code!r} in {session}")
            # The first signature is the full name; the others are shorter aliases.
            name = session["signatures"][0]
            records[name] = NoxRecord(
                session=name,
                status=NOX_RESULT_CODES[code],
                reason=session.get("reason"),
                seconds=float(session.get("duration") or 0.0),
            )
    return records


def build(
    results: Sequence[CellResult],
    nox_records: Mapping[str, NoxRecord],
    *,
    frameworks: Sequence[str] = SERIES_NAMES,
    pythons: Sequence[str] = PYTHONS,
    facts: RunFacts | None = None,
) -> MatrixReport:
    by_cell = {result.cell: result for result in results}
    cells = tuple(
        _cell_report(framework, python, by_cell, nox_records)
        for framework in frameworks
        for python in pythons
    )
    return MatrixReport(
        frameworks=tuple(frameworks),
        pythons=tuple(pythons),
        cells=cells,
        comparison=compare(results),
        outside_matrix=tuple(sorted(set(by_cell) - {cell.cell for cell in cells})),
        run=facts,
    )


def _cell_report(
    framework: str,
    python: str,
    results: Mapping[str, CellResult],
    nox_records: Mapping[str, NoxRecord],
) -> CellReport:
    name = cell_name(python, framework)
    result, nox = results.get(name), nox_records.get(name)
    status, note = _status(result, nox)
    if name in LEFT_OUT and status in (Status.NOT_RUN, Status.SKIPPED):
        status, note = Status.LEFT_OUT, LEFT_OUT[name]
    return CellReport(
        cell=name,
        framework=framework,
        python=python,
        status=status,
        result=result,
        nox=nox,
        note=note,
    )


def _status(result: CellResult | None, nox: NoxRecord | None) -> tuple[Status, str | None]:
    """The cell's status and why; nox judges the whole session, the result the verification."""
    error = _first_line(result.error) if result is not None and result.error else None
    if nox is not None and nox.status is not Status.PASSED:
        named = result is not None and bool(result.failed)
        fallback = None if named else f"the nox session {nox.status}; see its log"
        return nox.status, error or nox.reason or fallback
    if result is None:
        if nox is None:
            return Status.NOT_RUN, None
        return Status.FAILED, "the session passed but wrote no result file"
    if not result.success:
        return Status.FAILED, error
    return Status.PASSED, None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# Markdown


def markdown(report: MatrixReport) -> str:
    """The step summary: the grid, the counts, the comparison and what did not pass."""
    lines = ["## Pact verification matrix", ""]
    match list(report.providers.items()):
        case []:
            pass
        case [(provider, _)]:
            lines += [f"Provider {_md(provider)}", ""]
        case several:
            lines += [
                "⚠️ **These results are of more than one provider version:** "
                + "; ".join(
                    f"{_md(p)}: " + ", ".join(f"`{cell}`" for cell in cells) for p, cells in several
                ),
                "",
            ]
    lines += _md_run(report.run)
    lines += [f"- Verified {_md(pact)}" for pact in report.pacts]
    if report.pacts:
        lines.append("")
    lines += [
        "| framework | " + " | ".join(f"Python {p}" for p in report.pythons) + " |",
        "|---|" + "---|" * len(report.pythons),
    ]
    for framework in report.frameworks:
        grid_cells = (_md_grid_cell(report.cell(framework, p)) for p in report.pythons)
        lines.append(f"| {_md(framework)} | " + " | ".join(grid_cells) + " |")
    counts = ", ".join(f"{report.count(status)} {status}" for status in Status)
    lines += ["", f"**{len(report.cells)} cells:** {counts}", ""]
    mark = "✅" if report.comparison.ok else "❌"
    lines += [f"**Cross-cell comparison:** {mark} {_md(report.comparison.verdict())}", ""]
    problems = _md_problems(report)
    if problems:
        lines += ["### What did not pass", "", *problems, ""]
    lines += [
        "<details><summary>Every cell</summary>",
        "",
        "| cell | status | interactions verified | failed | verification s | session s |",
        "|---|---|---:|---:|---:|---:|",
        *(_md_detail_row(cell) for cell in report.cells if cell.status is not Status.LEFT_OUT),
        "",
        "</details>",
    ]
    if report.outside_matrix:
        names = ", ".join(f"`{_md(name)}`" for name in report.outside_matrix)
        lines += ["", f"Results of cells outside the matrix, not shown: {names}"]
    return "\n".join(lines) + "\n"


CAN_I_DEPLOY = re.compile(r"`pact broker can-i-deploy` says (yes|no)\.")


def _md_run(facts: RunFacts | None) -> list[str]:
    if facts is None:
        return ["No run folder: no verdict recorded.", ""]
    head, *rest = facts.verdict
    mark = ("✅" if facts.success else "❌") if facts.judged else "⚠️ **No verdict:**"
    lines = [f"{mark} **{_md(head)}**" if facts.judged else f"{mark} {_md(head)}"]
    # The summary's own list items stay a list; its can-i-deploy line is its own words.
    lines += [
        f"- {_md(line[2:])}" if line.startswith("- ") else line if CAN_I_DEPLOY.fullmatch(line)
        else _md(line)
        for line in rest
    ]  # fmt: skip
    started = f", started {facts.started.replace('+00:00', ' UTC')}" if facts.started else ""
    return [*lines, "", f"Run `{facts.id}`{started}", ""]


def _md_grid_cell(cell: CellReport) -> str:
    text = f"{SYMBOLS[cell.status]} {cell.status}"
    if cell.status is Status.LEFT_OUT:
        text += f"<br>{_md(cell.note or '')}"
    if cell.result is not None:
        failed = len(cell.result.failed)
        text += f"<br>{cell.result.verified} verified" + (f", {failed} failed" if failed else "")
    if cell.seconds is not None:
        text += f"<br>{cell.seconds:.1f} s"
    return text


def _md_detail_row(cell: CellReport) -> str:
    result = cell.result
    columns = [
        f"`{cell.cell}`",
        f"{SYMBOLS[cell.status]} {cell.status}",
        "-" if result is None else str(result.verified),
        "-" if result is None else str(len(result.failed)),
        "-" if result is None else f"{result.seconds:.1f}",
        "-" if cell.nox is None else f"{cell.nox.seconds:.1f}",
    ]
    return "| " + " | ".join(columns) + " |"


def _md_problems(report: MatrixReport) -> list[str]:
    problems = []
    for cell in report.cells:
        if cell.status in QUIET:
            continue
        if cell.note:
            problems.append(f"- {SYMBOLS[cell.status]} `{cell.cell}`: {_md(cell.note)}")
        for outcome in cell.result.failed if cell.result else ():
            pending = " (pending)" if outcome.pending else ""
            first = _md(_shorten(outcome.mismatches[0])) if outcome.mismatches else "no detail"
            if len(outcome.mismatches) > 1:
                first += f" (and {len(outcome.mismatches) - 1} more)"
            problems.append(
                f"- {SYMBOLS[cell.status]} `{cell.cell}`: {_md(outcome.name)}{pending}: {first}"
            )
    problems.extend(
        f"- ❌ disagreement: {_md(d.describe())}"
        for group in report.comparison.groups
        for d in group.disagreements
    )
    problems.extend(
        f"- ❌ `{cell}` not compared: {_md(why)}" for cell, why in report.comparison.not_compared
    )
    return problems


def _shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Backslash-escapable in GitHub Markdown; `$` too, which would otherwise start maths.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")


def _md(text: str) -> str:
    """Text from pacts and providers, shown literally: no markup, links or HTML of its own."""
    one_line = " ".join(text.split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(one_line, quote=False))


# HTML

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("verification", "templates"),
    # Mismatch text and interaction names come from providers and pacts: escape everything.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html_page(report: MatrixReport) -> str:
    """A self-contained page (inline CSS, no scripts, no external assets) of the matrix."""
    return _TEMPLATES.get_template("report.html.j2").render(
        report=report, Status=Status, QUIET=QUIET
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
