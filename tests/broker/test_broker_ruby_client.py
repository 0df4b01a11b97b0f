"""The broker driven by the Ruby `pact-broker` client (pact_broker-client, pact-python-cli 2.6.4.0).

That client ships in a release of the same distribution as the Rust CLI, so it lives in its own
environment: `nox -s ruby_broker_client`. Elsewhere these tests are skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from broker.testing import pact_document, unique_name, write_pact
from tests.broker.clients import RUBY_CLIENT, run_client

if TYPE_CHECKING:
    from broker.testing import RunningBroker

pytestmark = pytest.mark.skipif(
    not RUBY_CLIENT.exists(),
    reason="the Ruby pact-broker client is only in the ruby_broker_client session",
)


def ruby(broker: RunningBroker, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_client([str(RUBY_CLIENT), *args, "--broker-base-url", broker.url], check=check)


def publish(
    broker: RunningBroker,
    tmp_path: Path,
    consumer: str,
    provider: str,
    version: str,
    paths: list[str],
    *extra: str,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    directory = tmp_path / unique_name("pacts-")
    write_pact(directory, pact_document(consumer, provider, paths, spec="3.0.0"))
    return ruby(
        broker, "publish", str(directory), "--consumer-app-version", version, *extra, check=check
    )


def test_publish_republish_and_conflict(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("rc-"), unique_name("rp-")
    first = publish(
        broker,
        tmp_path,
        consumer,
        provider,
        "1",
        ["/a"],
        "--branch",
        "main",
        "--tag",
        "dev",
        "--tag",
        "qa",
        "--build-url",
        "https://ci.example/1",
    )
    assert "published successfully" in first.stdout
    again = publish(broker, tmp_path, consumer, provider, "1", ["/a"], "--branch", "main")
    assert "republished with no content changes" in again.stdout
    changed = publish(broker, tmp_path, consumer, provider, "1", ["/b"], check=False)
    assert changed.returncode != 0
    assert "Cannot change the content" in changed.stdout + changed.stderr

    version = httpx.get(f"{broker.url}/pacticipants/{consumer}/versions/1").json()
    assert version["buildUrl"] == "https://ci.example/1"
    assert [t["name"] for t in version["_embedded"]["tags"]] == ["dev", "qa"]


def test_versions_tags_pacticipants_and_listing(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("rc-"), unique_name("rp-")
    publish(broker, tmp_path, consumer, provider, "1", ["/a"], "--branch", "main")
    ruby(broker, "create-version-tag", "--pacticipant", consumer, "--version", "1", "--tag", "prod")
    ruby(
        broker,
        "create-or-update-version",
        "--pacticipant",
        consumer,
        "--version",
        "2",
        "--branch",
        "feat/y",
        "--tag",
        "x",
    )
    described = ruby(broker, "describe-version", "--pacticipant", consumer, "--version", "1").stdout
    assert "prod" in described
    latest = ruby(broker, "describe-version", "--pacticipant", consumer, "--latest", "x").stdout
    assert "2" in latest
    assert consumer in ruby(broker, "list-latest-pact-versions").stdout

    ruby(
        broker,
        "create-or-update-pacticipant",
        "--name",
        provider,
        "--main-branch",
        "trunk",
        "--display-name",
        "Provider",
    )
    assert (
        "trunk"
        in ruby(broker, "describe-pacticipant", "--name", provider, "--output", "json").stdout
    )
    assert provider in ruby(broker, "list-pacticipants").stdout


def test_environments_deployments_and_releases(broker: RunningBroker, tmp_path: Path) -> None:
    consumer, provider = unique_name("rc-"), unique_name("rp-")
    environment = unique_name("env-")
    publish(broker, tmp_path, consumer, provider, "1", ["/a"], "--branch", "main")
    publish(broker, tmp_path, consumer, provider, "2", ["/b"], "--branch", "main")
    ruby(broker, "create-environment", "--name", environment, "--display-name", "Staging")
    assert environment in ruby(broker, "list-environments").stdout

    ruby(
        broker,
        "record-deployment",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--environment",
        environment,
    )
    ruby(
        broker,
        "record-deployment",
        "--pacticipant",
        consumer,
        "--version",
        "2",
        "--environment",
        environment,
    )
    undeployed = ruby(
        broker, "record-undeployment", "--pacticipant", consumer, "--environment", environment
    )
    assert "Recorded undeployment" in undeployed.stdout
    ruby(
        broker,
        "record-release",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--environment",
        "production",
    )
    ended = ruby(
        broker,
        "record-support-ended",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--environment",
        "production",
    )
    assert "Recorded support ended" in ended.stdout

    environments = httpx.get(f"{broker.url}/environments", params={"name": environment}).json()
    uuid = environments["_embedded"]["environments"][0]["uuid"]
    deployed = httpx.get(
        f"{broker.url}/environments/{uuid}/deployed-versions/currently-deployed",
        params={"pacticipant": consumer},
    ).json()
    assert deployed["_embedded"]["deployedVersions"] == []  # 1 replaced by 2, then 2 undeployed


def test_can_i_deploy_before_and_after_a_verification(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("rc-"), unique_name("rp-")
    publish(broker, tmp_path, consumer, provider, "1", ["/a"], "--branch", "main")
    before = ruby(
        broker,
        "can-i-deploy",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--to-environment",
        "production",
        check=False,
    )
    assert before.returncode != 0

    # The verification result as the verifier posts it (no pact-python in this environment).
    pact = httpx.get(f"{broker.url}/pacts/provider/{provider}/consumer/{consumer}/version/1").json()
    results = pact["_links"]["pb:publish-verification-results"]["href"]
    assert (
        httpx.post(results, json={"success": True, "providerApplicationVersion": "p1"}).status_code
        == 201
    )
    ruby(
        broker,
        "record-deployment",
        "--pacticipant",
        provider,
        "--version",
        "p1",
        "--environment",
        "production",
    )

    after = ruby(
        broker,
        "can-i-deploy",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--to-environment",
        "production",
        check=False,
    )
    assert after.returncode == 0, after.stdout
    latest = ruby(
        broker,
        "can-i-deploy",
        "--pacticipant",
        consumer,
        "--latest",
        "--to-environment",
        "production",
        check=False,
    )
    assert latest.returncode == 0, latest.stdout
    both = ruby(
        broker,
        "can-i-deploy",
        "--pacticipant",
        consumer,
        "--version",
        "1",
        "--pacticipant",
        provider,
        "--version",
        "p1",
        check=False,
    )
    assert both.returncode == 0, both.stdout
