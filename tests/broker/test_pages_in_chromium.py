"""The broker's pages as a browser shows them at 1,280 px: headless Debian chromium, driven over
the DevTools protocol, every host but 127.0.0.1 unresolvable (so offline as far as it knows).

Each page must fit the width (no horizontal scrolling) with `<sha>+dirty.<digest>` versions,
must not be blank, and must show the failing verdict with its reason; `/docs` must render
Swagger UI's operations from the broker's own files. Screenshots go to results/screenshots/
broker/ for CI to keep. Without chromium the test skips, in CI (CI set) it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest

from tests.broker.chromium import Browser, find_chromium
from tests.broker.pages_data import FAILED_CELLS, Pages, populate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from broker.testing import RunningBroker

WIDTH = 1280
SCREENSHOTS = Path(__file__).resolve().parents[2] / "results" / "screenshots" / "broker"
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = find_chromium()
    if chromium is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must install it", pytrace=False)
        pytest.skip(message)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(chromium, tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture(scope="module")
def data(broker: RunningBroker) -> Pages:
    with httpx.Client(base_url=broker.url, timeout=30) as client:
        return populate(client)


def matrix_query(data: Pages) -> str:
    query = {"q[][pacticipant]": data.failing_consumer, "q[][version]": data.v1}
    return "/matrix?" + urlencode({**query, "latestby": "cvpv"})


@pytest.mark.parametrize(
    ("name", "path"), [("index", "/"), ("matrix", "/matrix"), ("matrix-query", None)]
)
def test_a_page_fits_1280_px_and_shows_the_failing_verdict(
    browser: Browser, broker: RunningBroker, data: Pages, name: str, path: str | None
) -> None:
    page = browser.open(broker.url + (path or matrix_query(data)), WIDTH)
    page.screenshot(SCREENSHOTS / f"{name}.png")

    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(FITS), f"{name}: {width} px wide in a {inner} px window"
    text = page.evaluate("document.body.innerText")
    assert len(text) > 300, f"{name} is (nearly) blank: {text!r}"
    verdicts = page.evaluate("[...document.querySelectorAll('.verdict')].map(e => e.innerText)")
    failed = [verdict for verdict in verdicts if verdict.startswith("failed")]
    assert failed, f"{name}: no failed verdict among {verdicts}"
    assert f"2 cells failed: {', '.join(FAILED_CELLS)}" in failed[0]
    assert "Expected 'Verna Hampton' <b>but</b> got 'Verna'" in failed[0]


def test_the_api_documentation_renders_offline(browser: Browser, broker: RunningBroker) -> None:
    page = browser.open(broker.url + "/docs", WIDTH)
    rendered = page.wait_for("document.querySelectorAll('.swagger-ui .opblock').length > 20")
    page.screenshot(SCREENSHOTS / "docs.png")

    assert rendered, "Swagger UI did not render its operations: " + repr(
        page.evaluate("document.body.innerText")[:300]
    )
    assert "/pacts/provider/{provider}/provider-states" in page.evaluate("document.body.innerText")
