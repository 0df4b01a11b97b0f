"""The HTML report as a browser shows it: Debian's chromium, headless, from a file, offline.

In CI (CI set) a missing chromium fails the test: CI must install it (`apt-get install -y
chromium`). On a developer's machine without it, the test is skipped and says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from matrix import FRAMEWORKS, PYTHONS, cell_name
from verification.report import NoxRecord, Status, build, html_page
from verification.results import CellResult, InteractionOutcome

MakeCell = Callable[..., CellResult]
MakeInteraction = Callable[..., InteractionOutcome]
BROWSERS = ("chromium", "chromium-browser")
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
    skipped = cell_name(PYTHONS[-1], FRAMEWORKS[-1])
    report = build(
        [
            make_cell(PYTHONS[0], FRAMEWORKS[0]),
            make_cell(PYTHONS[0], FRAMEWORKS[-1]),
            make_cell(PYTHONS[1], FRAMEWORKS[-1], [*make_cell().interactions[1:], failed]),
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

    expected = {cell_name(p, f): "not run" for p in PYTHONS for f in FRAMEWORKS}
    expected |= {
        cell_name(PYTHONS[0], FRAMEWORKS[0]): "passed",
        cell_name(PYTHONS[0], FRAMEWORKS[-1]): "passed",
        cell_name(PYTHONS[1], FRAMEWORKS[-1]): "failed",
        cell_name(PYTHONS[-1], FRAMEWORKS[-1]): "skipped",
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
