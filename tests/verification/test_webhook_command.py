"""`nox -s webhook -- OWNER/REPO`: one command makes the broker start the repository's workflow
for each pact that needs verifying, with the body the workflow reads, the token kept secret.

The broker is `python -m broker` on SQLite on disk; GitHub's dispatch API is a loopback
receiver; the webhook is run by the broker's own `POST /webhooks/{uuid}/execute`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broker.testing import RunningBroker, pact_document, publish_body, start_broker
from matrix import CONSUMER, PROVIDER
from tests.broker.receiver import Receiver
from verification.__main__ import main
from verification.webhook import webhook_uuid

TOKEN = "ghp_not-a-real-token-but-secret"
REPOSITORY = "octo-org/user-provider"


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningBroker]:
    """The user's broker, named by PACT_BROKER_BASE_URL, holding a pact of UserProvider's."""
    running = start_broker(tmp_path / "pact_broker.sqlite")
    monkeypatch.setenv("PACT_BROKER_BASE_URL", running.url)
    monkeypatch.delenv("PACT_MATRIX_EMBEDDED_BROKER", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    pact = pact_document(CONSUMER, PROVIDER, ["/users/1"])
    httpx.post(
        f"{running.url}/contracts/publish", json=publish_body(pact, "consumer-1", branch="main")
    ).raise_for_status()
    yield running
    assert running.stop() == 0


def test_one_command_makes_the_webhook_that_dispatches_the_workflow(
    broker: RunningBroker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with Receiver(statuses=(204,)) as github:
        command = ["webhook", REPOSITORY, "--github-api", github.url]
        assert main(command) == 0
        assert main(command) == 0  # again: the same webhook, updated, not a second one
        said = capsys.readouterr()
        assert f"the workflow of {REPOSITORY}" in said.out
        assert TOKEN not in said.out + said.err

        listed = httpx.get(f"{broker.url}/webhooks").json()["_links"]["pb:webhooks"]
        assert len(listed) == 1
        uuid = webhook_uuid(PROVIDER, REPOSITORY)
        shown = httpx.get(f"{broker.url}/webhooks/{uuid}").json()
        assert [event["name"] for event in shown["events"]] == [
            "contract_requiring_verification_published"
        ]
        assert TOKEN not in str(shown)  # the broker shows the header masked

        executed = httpx.post(f"{broker.url}/webhooks/{uuid}/execute")
        assert executed.status_code == 200, executed.text
        [dispatch] = github.wait_for(1)

    assert (dispatch.method, dispatch.path) == ("POST", f"/repos/{REPOSITORY}/dispatches")
    assert dispatch.headers["Authorization"] == f"Bearer {TOKEN}"
    body = dispatch.json()
    # What .github/workflows/verify.yml reads: the event, the pact's URL, the commit, the branch.
    assert body["event_type"] == "contract_requiring_verification_published"
    assert set(body["client_payload"]) == {"pact_url", "sha", "branch"}
    assert body["client_payload"]["pact_url"].startswith(
        f"{broker.url}/pacts/provider/{PROVIDER}/consumer/{CONSUMER}/"
    )


@pytest.mark.parametrize(
    ("environ", "repository", "says"),
    [
        ({"GITHUB_TOKEN": TOKEN}, "not a repository", "is not a GitHub repository's OWNER/REPO"),
        ({}, REPOSITORY, "set GITHUB_TOKEN"),
    ],
)
def test_a_missing_token_or_a_wrong_repository_is_a_clear_error(
    broker: RunningBroker,
    environ: dict[str, str],
    repository: str,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["webhook", repository]) == 2
    assert says in capsys.readouterr().err
    assert httpx.get(f"{broker.url}/webhooks").json()["_links"]["pb:webhooks"] == []
