"""The webhook loop, end to end on loopback: a consumer's changed pact is verified by the whole
matrix because the broker asked for it, and the consumer's can-i-deploy gets its answer.

Real parts throughout: the broker is `python -m broker` on SQLite on disk; the webhook is made
and the pact published with the real Rust `pact broker` CLI; a loopback receiver stands in for
GitHub's dispatch API; each cell is the real pact-python verifier against its framework, here
in this process (what differs between Pythons is `nox -s verify`'s to test); the verdict is
`python -m verification verdict`; can-i-deploy is the real CLI. The steps are printed (`-s`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broker.testing import RunningBroker, start_broker
from broker.webhooks import GITHUB_DISPATCH_BODY
from matrix import ALL_CELLS, CONSUMER, MATRIX, PROVIDER
from tests.broker.clients import PACT
from tests.broker.receiver import Receiver
from tests.broker.test_broker_rust_cli import pact_cli, publish
from tests.verification.test_matrix_verdict import BROKEN, Matrix, NoUserIsFound, settings_for
from verification.__main__ import main
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.embedded import publish_pacts_once
from verification.settings import Settings

TOKEN = "ghp_loop-test-token"
PROVIDER_VERSION = "provider-sha-1"
NEW_CONSUMER_VERSION = "consumer-2"
REPOSITORY = "octo-org/user-provider"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    running = start_broker(
        tmp_path / "pact_broker.sqlite", env={"PACT_BROKER_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2"}
    )
    yield running
    assert running.stop() == 0


@pytest.mark.skipif(PACT is None, reason="the Rust pact CLI is not installed")
@pytest.mark.parametrize("broken", [None, BROKEN], ids=["healthy", f"{BROKEN}-broken"])
def test_a_changed_pact_is_verified_by_the_whole_matrix_because_the_broker_asked(
    broken: str | None,
    broker: RunningBroker,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    steps: list[str] = []
    endpoint = BrokerEndpoint(broker.url)

    # 1. The provider as deployed: its main-branch head, verified by the whole matrix.
    cell_settings = settings_for("real broker", broker.url, settings.pact_dir, tmp_path / "first")
    publish_pacts_once(endpoint, cell_settings)
    matrix = Matrix(endpoint, cell_settings, tmp_path / "first")
    _, exit_code = matrix.verify(PROVIDER_VERSION, broken=None, capsys=capsys)
    assert exit_code == 0, matrix.outputs[-1]
    httpx.patch(
        f"{broker.url}/pacticipants/{PROVIDER}",
        json={"mainBranch": "main"},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    pact_cli(broker, "record-deployment", "-a", PROVIDER, "-e", PROVIDER_VERSION,
             "--environment", "production")  # fmt: skip
    steps.append(f"1. {PROVIDER} {PROVIDER_VERSION} (main, in production): verified by all cells")

    with Receiver(statuses=(204,)) as github:
        # 2. The webhook, as the README's command line for the CLI makes it.
        pact_cli(
            broker, "create-or-update-webhook", f"{github.url}/repos/{REPOSITORY}/dispatches",
            "--request", "POST", "--header", "Content-Type: application/json",
            "Accept: application/vnd.github+json", f"Authorization: Bearer {TOKEN}",
            "--data", GITHUB_DISPATCH_BODY, "--uuid", "pact-matrix-loop-test-webhook",
            "--provider", PROVIDER, "--contract-requiring-verification-published",
        )  # fmt: skip
        steps.append("2. webhook contract_requiring_verification_published -> GitHub dispatch")

        # 3. The consumer changes its pact (one interaction fewer) and publishes it.
        [written] = sorted(settings.pact_dir.glob("*.json"))
        changed = json.loads(written.read_text("utf-8"))
        changed["interactions"] = changed["interactions"][:-1]
        publish(broker, tmp_path, changed, NEW_CONSUMER_VERSION, "--branch", "main")
        steps.append(f"3. `pact broker publish` {CONSUMER} {NEW_CONSUMER_VERSION} (main)")

        # 4. The broker dispatches the provider's workflow, with what the workflow reads.
        [dispatch] = github.wait_for(1)
    assert (dispatch.method, dispatch.path) == ("POST", f"/repos/{REPOSITORY}/dispatches")
    assert dispatch.headers["Authorization"] == f"Bearer {TOKEN}"
    body = dispatch.json()
    assert body["event_type"] == "contract_requiring_verification_published"
    payload = body["client_payload"]
    assert payload["sha"] == PROVIDER_VERSION
    assert payload["branch"] == "main"
    assert payload["pact_url"].startswith(
        f"{broker.url}/pacts/provider/{PROVIDER}/consumer/{CONSUMER}/"
    )
    steps.append(f"4. dispatch received: {json.dumps(body['client_payload'])}")

    # 5. The workflow's run: every cell verifies that pact alone, at that commit and branch.
    environ = {
        "PACT_URL": payload["pact_url"],
        "PACT_PROVIDER_VERSION": payload["sha"],
        "PACT_PROVIDER_BRANCH": payload["branch"],
        "PACT_BROKER_BASE_URL": broker.url,
        "PACT_PUBLISH_VERIFICATION_RESULTS": "true",
        "PACT_DIR": str(settings.pact_dir),
    }
    by_url = Settings.from_env(environ)
    results = tmp_path / "by-url"
    for python, series in MATRIX:
        store = NoUserIsFound() if series.framework == broken else None
        result = run(Cell(series.framework, python, series.name), by_url, endpoint, store=store)
        assert [pact.consumer_version for pact in result.pacts] == [NEW_CONSUMER_VERSION]
        result.write(results)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    exit_code = main(["verdict", str(results)])
    summary = capsys.readouterr().out
    verdict = [line for line in summary.splitlines() if line.startswith(("Verdict:", "- "))]
    steps.append("5. the matrix on PACT_URL: " + " | ".join(verdict))
    assert "Verdict: " + ("verified" if broken is None else "NOT verified") in summary
    assert "and published." in summary
    assert f"of {len(ALL_CELLS)} cells passed; the pact at PACT_URL {payload['pact_url']}" in (
        summary
    )
    assert exit_code == (0 if broken is None else 1), summary

    # 6. The consumer asks whether its new version may go to production.
    answer = pact_cli(broker, "can-i-deploy", "-a", CONSUMER, "-e", NEW_CONSUMER_VERSION,
                      "--to-environment", "production", check=False)  # fmt: skip
    said = "yes" if answer.returncode == 0 else "no"
    steps.append(f"6. {CONSUMER}'s `pact broker can-i-deploy` to production says {said}")
    print("\n".join(["", "webhook loop:", *steps]))
    assert said == ("yes" if broken is None else "no"), answer.stdout
