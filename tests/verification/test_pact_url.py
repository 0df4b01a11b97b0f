"""PACT_URL: a webhook-triggered build verifies exactly the pact it was given, or fails at once.

The broker is `python -m broker` on SQLite on disk; the cells are the real pact-python
verifier against each framework, in this process; the verdict is `python -m verification
verdict`, and can-i-deploy the real `pact` CLI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broker.testing import RunningBroker, pact_document, publish_body, start_broker
from matrix import ALL_CELLS, CONSUMER, FRAMEWORKS, MATRIX, PROVIDER
from verification import report
from verification.__main__ import main
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.embedded import publish_pacts_once
from verification.results import CellResult, load_results
from verification.settings import Settings

CONSUMER_VERSION = "consumer-1"


@pytest.fixture
def broker_with_pacts(settings: Settings, tmp_path: Path) -> Iterator[RunningBroker]:
    """This checkout's pact, and another consumer's pact for the same provider that no
    provider here honours (it expects 200 for a path that does not exist)."""
    running = start_broker(tmp_path / "pact_broker.sqlite")
    endpoint = BrokerEndpoint(running.url)
    publish_pacts_once(endpoint, environment(running.url, settings.pact_dir))
    other = pact_document("OtherConsumer", PROVIDER, ["/no-such-path"])
    httpx.post(
        f"{running.url}/contracts/publish", json=publish_body(other, "other-1", branch="main")
    ).raise_for_status()
    yield running
    assert running.stop() == 0


def environment(url: str, pact_dir: Path, **more: str) -> Settings:
    return Settings.from_env(
        {
            "PACT_BROKER_BASE_URL": url,
            "PACT_DIR": str(pact_dir),
            "PACT_CONSUMER_VERSION": CONSUMER_VERSION,
            "PACT_CONSUMER_BRANCH": "main",
            "PACT_PROVIDER_VERSION": "provider-1",
            "PACT_PROVIDER_BRANCH": "main",
            **more,
        }
    )


def pact_url(base: str, version: str = CONSUMER_VERSION) -> str:
    return f"{base}/pacts/provider/{PROVIDER}/consumer/{CONSUMER}/version/{version}"


def every_cell_on(url: str, pact: str, pact_dir: Path, results: Path) -> list[CellResult]:
    """Every cell of the matrix verifying the pact at `pact` (PACT_URL), its results written."""
    cell_settings = environment(url, pact_dir, PACT_URL=pact)
    verified = []
    for python, series in MATRIX:
        cell = Cell(series.framework, python, series.name)
        result = run(cell, cell_settings, BrokerEndpoint(url))
        result.write(results)
        verified.append(result)
    return verified


def the_verdict(
    url: str, pact: str, provider_version: str, results: Path, monkeypatch: pytest.MonkeyPatch
) -> int:
    """`python -m verification verdict` as a webhook's build runs it, publishing."""
    for name, value in {
        "PACT_URL": pact,
        "PACT_BROKER_BASE_URL": url,
        "PACT_PROVIDER_VERSION": provider_version,
        "PACT_PROVIDER_BRANCH": "main",
        "PACT_PUBLISH_VERIFICATION_RESULTS": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return main(["verdict", str(results)])


def test_every_cell_verifies_exactly_the_pact_at_pact_url_and_one_verdict_is_published(
    broker_with_pacts: RunningBroker,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = broker_with_pacts.url
    results = tmp_path / "results"

    for result in every_cell_on(url, pact_url(url), settings.pact_dir, results):
        # Only this pact: the other consumer's, which would fail, is not verified.
        assert [pact.consumer for pact in result.pacts] == [CONSUMER], result.report
        assert result.pacts[0].consumer_version == CONSUMER_VERSION
        assert result.pact_url == pact_url(url)
        assert result.success, result.report
    # The report says which pact was verified, whose it is, and why.
    reported = report.build(load_results(results), {})
    [pact] = reported.pacts
    assert pact.startswith(f"{CONSUMER} version {CONSUMER_VERSION} pact "), pact
    assert pact.endswith(f": the pact at PACT_URL {pact_url(url)}, and no other"), pact
    assert report.markdown(reported).count("- Verified ") == 1
    assert f"<li>Verified {pact}</li>" in report.html_page(reported)

    capsys.readouterr()
    assert the_verdict(url, pact_url(url), "provider-1", results, monkeypatch) == 0
    said = capsys.readouterr().out

    assert f"{CONSUMER} (version {CONSUMER_VERSION}) pact" in said
    asked = f"the pact at PACT_URL {pact_url(url)}, and no other"
    assert f"{len(ALL_CELLS)} of {len(ALL_CELLS)} cells passed; {asked}" in said
    assert said.count("Published 1 verification result(s)") == 1
    assert "Verdict: verified, and published." in said
    # can-i-deploy for the provider as a whole also waits on the other consumer's pact.
    assert "`pact broker can-i-deploy` says no." in said  # OtherConsumer's pact is unverified


def test_a_pact_url_that_cannot_be_fetched_fails_at_once_naming_it_without_credentials(
    settings: Settings,
) -> None:
    with socket_that_refuses() as port:
        url = f"http://reader:s3cret@127.0.0.1:{port}/pacts/provider/{PROVIDER}/consumer/C/latest"
        cell_settings = environment(f"http://127.0.0.1:{port}", settings.pact_dir, PACT_URL=url)
        started = time.perf_counter()
        result = run(Cell(FRAMEWORKS[0]), cell_settings, BrokerEndpoint(f"http://127.0.0.1:{port}"))

    assert time.perf_counter() - started < 10
    assert not result.success
    assert result.error is not None
    assert f"cannot fetch PACT_URL http://***@127.0.0.1:{port}/pacts/" in result.error
    assert "s3cret" not in result.error + result.report
    assert result.pacts == ()
    assert result.stops_run  # every cell would fail alike: the run starts no other


def test_the_verdict_names_what_changed_since_the_consumers_previous_pact(
    broker_with_pacts: RunningBroker,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A consumer's new pact (here: one interaction fewer) is verified by its URL, as a
    webhook asks; the summary links the broker's diff with the consumer's previous pact."""
    url = broker_with_pacts.url
    [written] = sorted(settings.pact_dir.glob("*.json"))
    changed = json.loads(written.read_text("utf-8"))
    changed["interactions"] = changed["interactions"][:-1]
    httpx.post(
        f"{url}/contracts/publish", json=publish_body(changed, "consumer-2", branch="main")
    ).raise_for_status()
    new_pact = pact_url(url, "consumer-2")
    results = tmp_path / "results"
    every_cell_on(url, new_pact, settings.pact_dir, results)
    capsys.readouterr()
    assert the_verdict(url, new_pact, "provider-2", results, monkeypatch) == 0
    said = capsys.readouterr().out

    assert "Verdict: verified, and published." in said
    assert "; changed since its previous version: " in said
    link = said.split("; changed since its previous version: ", 1)[1].split()[0]
    diff = httpx.get(link, headers={"Accept": "text/plain"})
    assert diff.status_code == 200
    assert diff.text.startswith("# Diff between versions consumer-1 and consumer-2 of the pact")


def test_a_pact_url_of_another_provider_s_pact_or_of_no_pact_fails_naming_it(
    broker_with_pacts: RunningBroker, settings: Settings
) -> None:
    url = broker_with_pacts.url
    another = pact_document("Someone", "SomeoneElse", ["/x"])
    httpx.post(f"{url}/contracts/publish", json=publish_body(another, "9")).raise_for_status()
    endpoint = BrokerEndpoint(url)

    for target, expected in [
        (f"{url}/pacts/provider/SomeoneElse/consumer/Someone/version/9", f"not for {PROVIDER}"),
        (f"{url}/", "names no consumer and provider"),
        (f"{url}/pacts/provider/{PROVIDER}/consumer/Nobody/latest", "is not a pact"),
    ]:
        result = run(
            Cell(FRAMEWORKS[0]), environment(url, settings.pact_dir, PACT_URL=target), endpoint
        )
        assert result.error is not None, target
        assert f"PACT_URL {target}" in result.error
        assert expected in result.error


class socket_that_refuses:
    """A port on 127.0.0.1 that nothing listens on while the block runs."""

    def __enter__(self) -> int:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port: int = self._socket.getsockname()[1]
        return port

    def __exit__(self, *exc_info: object) -> None:
        self._socket.close()
