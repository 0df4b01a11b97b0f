"""Each framework's provider honours every pact the broker selects for UserProvider."""

from __future__ import annotations

from pathlib import Path

from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.junit import write_junit
from verification.settings import Settings


def test_provider_honours_the_consumer_pacts(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint, results_dir: Path
) -> None:
    result = run(Cell(framework), settings, broker_endpoint)
    result.write(results_dir)
    write_junit(result, results_dir)  # one testcase per interaction, for CI to show

    assert result.error is None, f"{result.error}\n\n{result.report}"
    assert result.verified > 0, f"verified zero interactions\n\n{result.report}"
    assert result.success, f"{len(result.failed)} interaction(s) failed\n\n{result.report}"
    print(f"{result.cell}: {result.verified} interactions verified in {result.seconds:.1f} s")
