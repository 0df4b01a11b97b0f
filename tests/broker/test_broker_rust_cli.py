"""The broker driven by the Rust `pact broker ...` CLI (pact-python-cli 1!0.10.9) and the verifier.

Every assertion is about what the real client does or prints; plain HTTP is used only to look
at what the broker stored.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from broker.testing import RecordingProvider, pact_document, unique_name, write_pact
from tests.broker.clients import PACT, run_client

if TYPE_CHECKING:
    from broker.testing import RunningBroker

pytest.importorskip("pact", reason="pact-python (the Rust verifier) is not installed")

from pact import Pact, Verifier

pytestmark = pytest.mark.skipif(PACT is None, reason="the Rust pact CLI is not installed")


def pact_cli(
    broker: RunningBroker, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`pact broker <args> -b URL`, with its output captured."""
    assert PACT is not None
    return run_client([PACT, "broker", *args, "-b", broker.url], check=check)


def publish(
    broker: RunningBroker,
    tmp_path: Path,
    document: dict[str, Any],
    version: str,
    *extra: str,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    directory = tmp_path / f"pacts-{unique_name()}"
    write_pact(directory, document)
    return pact_cli(broker, "publish", str(directory), "-a", version, *extra, check=check)


def verify(broker: RunningBroker, provider: str, version: str, *, branch: str = "main") -> bool:
    """Verify the provider's main-branch pacts with the Rust verifier, publishing results."""
    with RecordingProvider() as server:
        verifier = (
            Verifier(provider, host="127.0.0.1")
            .add_transport(url=server.url)
            .broker_source(broker.url, selector=True)
            .consumer_version(main_branch=True)
            .build()
            .set_publish_options(version, branch=branch)
        )
        try:
            verifier.verify()
        except RuntimeError:
            return False
    return True


def test_publish_with_branch_tags_and_build_url(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    document = pact_document(consumer, provider, ["/users/1"])
    result = publish(
        broker,
        tmp_path,
        document,
        "1.0.0",
        "--branch",
        "main",
        "-t",
        "dev",
        "qa",
        "--build-url",
        "https://ci.example/1",
    )
    assert "published successfully" in result.stdout

    version = httpx.get(f"{broker.url}/pacticipants/{consumer}/versions/1.0.0").json()
    assert version["buildUrl"] == "https://ci.example/1"
    assert [tag["name"] for tag in version["_embedded"]["tags"]] == ["dev", "qa"]
    assert [branch["name"] for branch in version["_embedded"]["branchVersions"]] == ["main"]
    # `main` is a main-branch candidate, so the real broker's auto-detection applies.
    assert httpx.get(f"{broker.url}/pacticipants/{consumer}").json()["mainBranch"] == "main"


def test_republishing_is_accepted_only_with_the_same_content(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    original = pact_document(consumer, provider, ["/users/1"])
    publish(broker, tmp_path, original, "1.0.0", "--branch", "main")

    again = publish(broker, tmp_path, original, "1.0.0", "--branch", "main")
    assert "republished with no content changes" in again.stdout

    changed = publish(
        broker, tmp_path, pact_document(consumer, provider, ["/users/2"]), "1.0.0", check=False
    )
    assert changed.returncode != 0
    assert "Cannot change the content of the pact" in changed.stdout + changed.stderr

    stored = httpx.get(
        f"{broker.url}/pacts/provider/{provider}/consumer/{consumer}/version/1.0.0"
    ).json()
    assert [i["request"]["path"] for i in stored["interactions"]] == ["/users/1"]


def test_list_latest_pact_versions_and_describe_version(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    publish(
        broker, tmp_path, pact_document(consumer, provider, ["/a"]), "1.0.0", "--branch", "main"
    )
    publish(
        broker,
        tmp_path,
        pact_document(consumer, provider, ["/b"]),
        "2.0.0",
        "--branch",
        "main",
        "-t",
        "rc",
    )

    listed = pact_cli(broker, "list-latest-pact-versions").stdout
    assert consumer in listed
    assert "2.0.0" in listed

    described = pact_cli(broker, "describe-version", "-a", consumer, "-e", "2.0.0").stdout
    assert "2.0.0" in described
    assert "rc" in described
    latest = pact_cli(broker, "describe-version", "-a", consumer, "-o", "json").stdout
    assert json.loads(latest)["number"] == "2.0.0"


def test_create_or_update_version(broker: RunningBroker) -> None:
    pacticipant = unique_name("app-")
    pact_cli(
        broker,
        "create-or-update-version",
        "-a",
        pacticipant,
        "-e",
        "1.2.3+abc",
        "--branch",
        "feat/x",
        "--tag",
        "t1",
    )
    version = httpx.get(f"{broker.url}/pacticipants/{pacticipant}/versions/1.2.3%2Babc").json()
    assert [b["name"] for b in version["_embedded"]["branchVersions"]] == ["feat/x"]
    assert [t["name"] for t in version["_embedded"]["tags"]] == ["t1"]


def test_record_deployment_undeploys_the_previous_version(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    for number in ("1", "2"):
        publish(
            broker,
            tmp_path,
            pact_document(consumer, provider, [f"/{number}"]),
            number,
            "--branch",
            "main",
        )
    pact_cli(broker, "record-deployment", "-a", consumer, "-e", "1", "--environment", "test")
    pact_cli(broker, "record-deployment", "-a", consumer, "-e", "2", "--environment", "test")
    pact_cli(broker, "record-release", "-a", consumer, "-e", "1", "--environment", "production")

    environments = httpx.get(f"{broker.url}/environments").json()["_embedded"]["environments"]
    by_name = {environment["name"]: environment["uuid"] for environment in environments}
    deployed = httpx.get(
        f"{broker.url}/environments/{by_name['test']}/deployed-versions/currently-deployed",
        params={"pacticipant": consumer},
    ).json()["_embedded"]["deployedVersions"]
    assert [d["_embedded"]["version"]["number"] for d in deployed] == ["2"]
    released = httpx.get(
        f"{broker.url}/environments/{by_name['production']}/released-versions/currently-supported",
        params={"pacticipant": consumer},
    ).json()["_embedded"]["releasedVersions"]
    assert [r["_embedded"]["version"]["number"] for r in released] == ["1"]


def test_can_i_deploy_before_and_after_verification(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    publish(
        broker, tmp_path, pact_document(consumer, provider, ["/users/1"]), "c1", "--branch", "main"
    )

    before = pact_cli(
        broker,
        "can-i-deploy",
        "-a",
        consumer,
        "-e",
        "c1",
        "--to-environment",
        "production",
        check=False,
    )
    assert before.returncode != 0, before.stdout
    assert "no verified pact" in before.stdout.lower()

    assert verify(broker, provider, "p1")
    pact_cli(broker, "record-deployment", "-a", provider, "-e", "p1", "--environment", "production")

    after = pact_cli(
        broker,
        "can-i-deploy",
        "-a",
        consumer,
        "-e",
        "c1",
        "--to-environment",
        "production",
        check=False,
    )
    assert after.returncode == 0, after.stdout
    latest = pact_cli(broker, "can-i-deploy", "-a", consumer, "-e", "c1", check=False)
    assert latest.returncode == 0, latest.stdout
    # The provider may go to production too: its consumer there (none yet) needs nothing.
    provider_side = pact_cli(
        broker,
        "can-i-deploy",
        "-a",
        provider,
        "-e",
        "p1",
        "--to-environment",
        "production",
        check=False,
    )
    assert provider_side.returncode == 0, provider_side.stdout


def test_can_i_deploy_says_no_after_a_failed_verification(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    publish(
        broker, tmp_path, pact_document(consumer, provider, ["/broken"]), "c1", "--branch", "main"
    )
    assert not verify(broker, provider, "p1")
    pact_cli(broker, "record-deployment", "-a", provider, "-e", "p1", "--environment", "test")

    result = pact_cli(
        broker, "can-i-deploy", "-a", consumer, "-e", "c1", "--to-environment", "test", check=False
    )
    assert result.returncode != 0
    assert "failed" in result.stdout.lower()

    ignored = pact_cli(
        broker,
        "can-i-deploy",
        "-a",
        consumer,
        "-e",
        "c1",
        "--to-environment",
        "test",
        "--ignore",
        provider,
        check=False,
    )
    assert ignored.returncode == 0, ignored.stdout


def test_can_i_deploy_between_two_named_versions(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    publish(broker, tmp_path, pact_document(consumer, provider, ["/ok"]), "c1", "--branch", "main")
    assert verify(broker, provider, "p1")
    result = pact_cli(
        broker, "can-i-deploy", "-a", consumer, "-e", "c1", "-a", provider, "-e", "p1", check=False
    )
    assert result.returncode == 0, result.stdout
    unknown = pact_cli(
        broker, "can-i-deploy", "-a", consumer, "-e", "c1", "-a", provider, "-e", "p2", check=False
    )
    assert unknown.returncode != 0


def test_a_v4_pact_written_by_pact_python_is_published_served_and_verified_by_id(
    broker: RunningBroker, tmp_path: Path
) -> None:
    """The whole path the cells take, with the V4 pact pact-python writes: `pact broker publish`,
    pacts for verification, the pact as stored (V4 keys kept, each interaction given an `_id`),
    and the Rust verifier reporting its result by that `_id`."""
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    pact = Pact(consumer, provider)  # pact-python's default specification, V4
    (
        pact.upon_receiving("a request for user 1")
        .with_request("GET", "/users/1")
        .will_respond_with(200)
        .add_text_comment("written by pact-python as V4")
    )
    with pact.serve() as server:
        assert httpx.get(f"{server.url}/users/1").status_code == 200
    directory = tmp_path / "pacts"
    pact.write_file(directory)
    written = json.loads(next(directory.glob("*.json")).read_text("utf-8"))
    assert written["metadata"]["pactSpecification"]["version"] == "4.0"

    result = pact_cli(broker, "publish", str(directory), "-a", "1.0.0", "--branch", "main")
    assert "published successfully" in result.stdout

    found = httpx.post(
        f"{broker.url}/pacts/provider/{provider}/for-verification",
        json={"consumerVersionSelectors": [{"mainBranch": True}]},
    ).json()["_embedded"]["pacts"]
    assert len(found) == 1
    served = httpx.get(found[0]["_links"]["self"]["href"]).json()
    assert served["metadata"]["pactSpecification"]["version"] == "4.0"
    [interaction] = served["interactions"]
    assert interaction["type"] == "Synchronous/HTTP"
    assert interaction["comments"] == written["interactions"][0]["comments"]
    assert interaction["pending"] is False
    assert interaction["_id"]

    with RecordingProvider() as recording:
        verifier = (
            Verifier(provider, host="127.0.0.1")
            .add_transport(url=recording.url)
            .broker_source(broker.url, selector=True)
            .consumer_version(main_branch=True)
            .build()
        )
        verifier.verify()
    assert recording.paths == ["/users/1"]
    results = verifier.results["interactionResults"]
    assert [item["interactionId"] for item in results] == [interaction["_id"]]
