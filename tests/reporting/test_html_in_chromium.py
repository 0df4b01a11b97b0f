"""The HTML report as a browser shows it: Debian's chromium, headless, from a file, offline.

In CI (CI set) a missing chromium fails the test: CI must install it (`apt-get install -y
chromium`). On a developer's machine without it, the test is skipped and says why.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from matrix import ALL_CELLS, FRAMEWORKS, LEFT_OUT, PROJECT_ROOT, PYTHONS, SERIES, cell_name, oldest
from tests.broker.chromium import Browser
from verification import run
from verification.__main__ import main
from verification.report import NoxRecord, Status, build, html_page
from verification.results import CellResult, InteractionOutcome

# The grid's rows are framework series; these run on every Python.
ROWS = [oldest(framework).name for framework in FRAMEWORKS]
assert len(SERIES) > len(ROWS), "a framework with two series (Django) is in the grid"

MakeCell = Callable[..., CellResult]
MakeInteraction = Callable[..., InteractionOutcome]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1200, 900)
MISMATCH = "body $.created_on: Expected '2024-05-01T12:30:00+00:00' <b>not</b> 'yesterday'"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must install it", pytrace=False)
        pytest.skip(message)
    return found


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Flags that keep it from reaching for the network (it hangs on a closed one) and from
    # sharing state with another run.
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def page(make_cell: MakeCell, make_interaction: MakeInteraction, tmp_path: Path) -> Path:
    """A report with a cell of each status but aborted, written to a file."""
    failed = make_interaction(
        "a request for user 1", "user 1 exists", success=False, mismatches=[MISMATCH]
    )
    skipped = cell_name(PYTHONS[-1], ROWS[-1])
    report = build(
        [
            make_cell(PYTHONS[0], ROWS[0]),
            make_cell(PYTHONS[0], ROWS[-1]),
            make_cell(PYTHONS[1], ROWS[-1], [*make_cell().interactions[1:], failed]),
        ],
        {skipped: NoxRecord(skipped, Status.SKIPPED, "Python interpreter not found", 0.4)},
    )
    path = tmp_path / "report.html"
    path.write_text(html_page(report), encoding="utf-8")
    return path


class GridParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self.pre: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "td" and values.get("data-cell"):
            self.cells[str(values["data-cell"])] = str(values["data-status"])
        self._in_pre = tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre.append(data)


def test_chromium_shows_the_grid_of_every_cell(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri()).stdout
    grid = GridParser()
    grid.feed(dom)

    expected = {cell: "not run" for cell in ALL_CELLS} | {cell: "left out" for cell in LEFT_OUT}
    expected |= {
        cell_name(PYTHONS[0], ROWS[0]): "passed",
        cell_name(PYTHONS[0], ROWS[-1]): "passed",
        cell_name(PYTHONS[1], ROWS[-1]): "failed",
        cell_name(PYTHONS[-1], ROWS[-1]): "skipped",
    }
    assert grid.cells == expected
    # The mismatch arrives as text: its markup was escaped, not parsed.
    assert MISMATCH in grid.pre


def stylesheet_colours(page: Path) -> dict[str, tuple[int, ...]]:
    """Each status's background colour, as the page's own stylesheet sets it."""
    found = re.findall(r"\.status-([a-z-]+) \{ background: #([0-9a-f]{6});", page.read_text())
    return {status: tuple(bytes.fromhex(hex_colour)) for status, hex_colour in found}


def test_chromium_paints_each_status_in_its_colour(
    chromium: str, page: Path, tmp_path: Path
) -> None:
    screenshot = tmp_path / "report.png"
    run_chromium(chromium, tmp_path, f"--screenshot={screenshot}", page.as_uri())

    with Image.open(screenshot) as image:
        assert image.format == "PNG"
        assert image.size == WINDOW
        colour_counts = image.convert("RGB").getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    assert colour_counts is not None
    pixels = Counter({colour: count for count, colour in colour_counts})
    assert len(pixels) > 50, "a blank or nearly blank page"
    # A grid cell is some 200 x 100 pixels of its status colour, less its text.
    colours = stylesheet_colours(page)
    for status in ("passed", "failed", "skipped", "not-run"):
        painted = pixels[colours[status]]
        assert painted > 10_000, f"{status}: only {painted} pixels of {colours[status]}"
    assert pixels[colours["aborted"]] == 0  # no cell was aborted, so none is painted so


WIDTH = 1280
SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots" / "report"
FITS = "document.documentElement.scrollWidth <= window.innerWidth"
LONG = "release-candidate-" + "0123456789abcdef" * 7  # a version no column was made for


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(chromium, tmp_path_factory.mktemp("browser")) as running:
        yield running


def test_a_failing_run_with_long_versions_fits_1280_px_and_shows_its_verdict(
    browser: Browser,
    make_cell: MakeCell,
    make_interaction: MakeInteraction,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The report of a whole run in which one framework failed, published as such, with a
    provider version and branch far longer than a column: no horizontal scroll, not blank,
    and the verdict at the top."""
    failed = make_interaction(
        "a request for user 1", "user 1 exists", success=False, mismatches=[MISMATCH]
    )
    ran = run.Run.named("20261206T010203-" + "f" * 40, tmp_path / "runs")
    for series in SERIES:
        for python in series.pythons:
            framework = series.name
            broken = [*make_cell().interactions[1:], failed] if framework == ROWS[-1] else None
            cell = make_cell(python, framework, broken) if broken else make_cell(python, framework)
            with ran.cell(cell.cell, fail=pytest.fail):
                dataclasses.replace(cell, provider_version=LONG, provider_branch=LONG).write(
                    ran.folder
                )
    run.VerdictSummary(
        success=False, published=True, can_i_deploy=False,
        pacts=(f"UserConsumer (version {LONG}) pact 9cdd381a: FAILED, 6 of 9 cells passed",),
    ).write(ran.verdict_file)  # fmt: skip
    html = tmp_path / "report.html"
    assert main(["report", "--results", str(ran.folder), "--html", str(html)]) == 0
    capsys.readouterr()

    page = browser.open(html.as_uri(), WIDTH)
    page.screenshot(SCREENSHOTS / "failing-run-long-versions.png")
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(FITS), f"{width} px wide in a {inner} px window"
    text = page.evaluate("document.body.innerText")
    assert len(text) > 300, f"(nearly) blank: {text!r}"
    verdict = page.evaluate("document.getElementById('verdict').innerText")
    assert verdict.startswith("Verdict: NOT verified, and published.")
    assert "`pact broker can-i-deploy` says no." in verdict
    assert LONG in text


def test_the_overflow_check_fails_on_a_page_that_overflows(
    browser: Browser, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.html"
    wide.write_text(f"<!doctype html><body><p>{'x' * 2000}</p></body>", encoding="utf-8")
    assert not browser.open(wide.as_uri(), WIDTH).evaluate(FITS)
