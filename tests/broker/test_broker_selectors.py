"""Consumer version selectors, pending and WIP, through the real Rust verifier (pact-python 4.x).

The data is published and deployed with the Rust `pact broker` CLI. Each consumer version's
pact asks the provider for its own paths (`/A/4`), so the provider's request log shows which
pacts the verifier was given. Expected results follow pact_broker:
`lib/pact_broker/pacts/pact_publication_selector_dataset_module.rb` (what a selector selects),
`lib/pact_broker/pacts/pact_publication_dataset_module.rb` (branch heads, tag heads, overall
latest), `lib/pact_broker/pacts/pacts_for_verification_repository.rb` (defaults for an empty
list, fallback tags, WIP) and `lib/pact_broker/pacts/selected_pact.rb` (merge by content).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from broker.testing import RecordingProvider, pact_document, unique_name, write_pact
from tests.broker.clients import PACT, run_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from broker.testing import RunningBroker

pytest.importorskip("pact", reason="pact-python (the Rust verifier) is not installed")

from pact import Verifier

pytestmark = pytest.mark.skipif(PACT is None, reason="the Rust pact CLI is not installed")

Builder = Any  # pact.verifier.BrokerSelectorBuilder (pact-python ships no stubs)


def cli(broker: RunningBroker, *args: str) -> None:
    assert PACT is not None
    run_client([PACT, "broker", *args, "-b", broker.url])


class Data:
    """Publishes consumer versions with the CLI; names are unique to this module's run."""

    def __init__(self, broker: RunningBroker, directory: Path) -> None:
        self.broker = broker
        self.directory = directory
        prefix = unique_name()
        self.provider = f"{prefix}-provider"
        self.names = {short: f"{prefix}-{short}" for short in ("A", "B")}

    def publish(
        self, consumer: str, version: str, paths: list[str], branch: str, tags: tuple[str, ...] = ()
    ) -> None:
        directory = self.directory / unique_name()
        write_pact(directory, pact_document(self.names[consumer], self.provider, paths))
        extra = ["--branch", branch] + (["-t", *tags] if tags else [])
        cli(self.broker, "publish", str(directory), "-a", version, *extra)

    def deploy(self, consumer: str, version: str, environment: str) -> None:
        cli(
            self.broker,
            "record-deployment",
            "-a",
            self.names[consumer],
            "-e",
            version,
            "--environment",
            environment,
        )

    def release(self, consumer: str, version: str, environment: str) -> None:
        cli(
            self.broker,
            "record-release",
            "-a",
            self.names[consumer],
            "-e",
            version,
            "--environment",
            environment,
        )


@pytest.fixture(scope="module")
def data(broker: RunningBroker, tmp_path_factory: pytest.TempPathFactory) -> Data:
    """Two consumers of one provider, in publication order:

    A (main branch `main`, auto-detected):      B (main branch `master`):
      A1 main, tag prod, deployed to production   B1 master, tag prod, deployed to test
      A2 main, tag dev                            B2 feat-x
      A3 feat-x, tag dev                          B3 master, released to production  } same
      A4 main (head of main)                      B4 master (head of master)         } content
      A5 feat-y (A's overall latest)
    """
    data = Data(broker, tmp_path_factory.mktemp("pacts"))
    data.publish("A", "1", ["/A/1"], "main", ("prod",))
    data.publish("B", "1", ["/B/1"], "master", ("prod",))
    data.publish("A", "2", ["/A/2"], "main", ("dev",))
    data.publish("B", "2", ["/B/2"], "feat-x")
    data.publish("A", "3", ["/A/3"], "feat-x", ("dev",))
    data.publish("B", "3", ["/B/shared"], "master")
    data.publish("A", "4", ["/A/4"], "main")
    data.publish("B", "4", ["/B/shared"], "master")
    data.publish("A", "5", ["/A/5"], "feat-y")
    data.deploy("A", "1", "production")
    data.deploy("B", "1", "test")
    data.release("B", "3", "production")
    return data


def verified_paths(
    data: Data, configure: Callable[[Builder], Builder], provider: str | None = None
) -> Counter[str]:
    """Run the Rust verifier against the broker; return how often each path was requested."""
    with RecordingProvider() as server:
        builder = (
            Verifier(provider or data.provider, host="127.0.0.1")
            .add_transport(url=server.url)
            .broker_source(data.broker.url, selector=True)
        )
        verifier = configure(builder).build()
        try:
            verifier.verify()
        except RuntimeError:
            if "No pacts" not in verifier.output(strip_ansi=True):
                raise
    return Counter(server.paths)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # The pact of each consumer's main-branch head (`latest_for_main_branches`).
        ({"main_branch": True}, {"/A/4", "/B/shared"}),
        # The head of the named branch, per consumer (`for_branch_heads`).
        ({"branch": "feat-x"}, {"/A/3", "/B/2"}),
        # The latest version with the tag, per consumer (`for_latest_consumer_versions_with_tag`).
        ({"tag": "prod", "latest": True}, {"/A/1", "/B/1"}),
        # Every version carrying the tag (`for_consumer_version_tag`).
        ({"tag": "dev"}, {"/A/2", "/A/3"}),
        # A tag that matched nothing falls back to the latest with the fallback tag.
        ({"tag": "nope", "latest": True, "fallback_tag": "dev"}, {"/A/3"}),
        # The overall latest pact per consumer (`overall_latest`).
        ({"latest": True}, {"/A/5", "/B/shared"}),
        # Currently deployed anywhere, or in one environment.
        ({"deployed": True}, {"/A/1", "/B/1"}),
        ({"deployed": True, "environment": "test"}, {"/B/1"}),
        # Released and still supported.
        ({"released": True}, {"/B/shared"}),
        # deployedOrReleased is split into deployed and released.
        ({"deployed_or_released": True}, {"/A/1", "/B/1", "/B/shared"}),
        # An environment alone is deployed or released there (`for_environment`).
        ({"environment": "production"}, {"/A/1", "/B/shared"}),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else "",
)
def test_selector(data: Data, selector: dict[str, Any], expected: set[str]) -> None:
    paths = verified_paths(data, lambda builder: builder.consumer_version(**selector))
    assert set(paths) == expected


def test_consumer_narrows_a_selector(data: Data) -> None:
    paths = verified_paths(
        data, lambda b: b.consumer_version(consumer=data.names["B"], main_branch=True)
    )
    assert set(paths) == {"/B/shared"}


def test_matching_branch_uses_the_provider_branch(data: Data) -> None:
    paths = verified_paths(
        data, lambda b: b.provider_branch("feat-x").consumer_version(matching_branch=True)
    )
    assert set(paths) == {"/A/3", "/B/2"}


def test_several_selectors_are_ored(data: Data) -> None:
    paths = verified_paths(
        data, lambda b: b.consumer_version(main_branch=True).consumer_version(branch="feat-x")
    )
    assert set(paths) == {"/A/4", "/B/shared", "/A/3", "/B/2"}


def test_the_same_content_is_verified_once(data: Data) -> None:
    # B3 (released) and B4 (main-branch head) published identical content: one pact to verify.
    paths = verified_paths(
        data, lambda b: b.consumer_version(main_branch=True).consumer_version(released=True)
    )
    assert paths["/B/shared"] == 1


def test_empty_selectors_use_the_real_brokers_defaults(data: Data) -> None:
    # Per consumer its main-branch head, plus everything deployed, plus everything released.
    paths = verified_paths(data, lambda builder: builder)
    assert set(paths) == {"/A/4", "/A/1", "/B/shared", "/B/1"}


def test_no_matching_pact_means_no_pacts(data: Data) -> None:
    assert verified_paths(data, lambda b: b.consumer_version(branch="does-not-exist")) == Counter()


def test_selection_reasons_are_notices(data: Data) -> None:
    body = httpx.post(
        f"{data.broker.url}/pacts/provider/{data.provider}/for-verification",
        json={"consumerVersionSelectors": [{"mainBranch": True}, {"released": True}]},
    ).json()
    shared = [
        p for p in body["_embedded"]["pacts"] if data.names["B"] in p["_links"]["self"]["name"]
    ]
    assert len(shared) == 1
    (notice,) = shared[0]["verificationProperties"]["notices"]
    assert notice["when"] == "before_verification"
    assert "main branch 'master' (4)" in notice["text"]
    assert "released and supported in production (3)" in notice["text"]


# --- pending and work in progress -----------------------------------------------------------


def pending_flags(
    broker: RunningBroker, provider: str, **options: Any
) -> dict[str, tuple[bool, bool]]:
    """{consumer version: (pending, wip)} from the pacts-for-verification answer."""
    body = httpx.post(
        f"{broker.url}/pacts/provider/{provider}/for-verification",
        json={"includePendingStatus": True, **options},
    ).json()
    result = {}
    for pact in body["_embedded"]["pacts"]:
        version = pact["_links"]["self"]["name"].split("(v")[1].split(")")[0]
        properties = pact["verificationProperties"]
        result[version] = (properties["pending"], properties.get("wip", False))
    return result


def verify_and_publish(
    data: Data,
    version: str,
    branch: str,
    *,
    wip_since: str | None = None,
    tags: list[str] | None = None,
) -> Counter[str]:
    def configure(builder: Builder) -> Builder:
        builder = (
            builder.include_pending().provider_branch(branch).consumer_version(main_branch=True)
        )
        if wip_since:
            builder = builder.include_wip_since(wip_since)
        return builder

    with RecordingProvider() as server:
        verifier = (
            configure(
                Verifier(data.provider, host="127.0.0.1")
                .add_transport(url=server.url)
                .broker_source(data.broker.url, selector=True)
            )
            .build()
            .set_publish_options(version, branch=branch, tags=tags)
        )
        verifier.verify()  # raises if a non-pending pact fails
    return Counter(server.paths)


@pytest.fixture
def fresh(broker: RunningBroker, tmp_path: Path) -> Data:
    """An empty consumer/provider pair for tests that change verification state."""
    return Data(broker, tmp_path)


def test_a_pact_is_pending_until_the_provider_branch_verified_it(fresh: Data) -> None:
    fresh.publish("A", "1", ["/A/1"], "main")
    assert pending_flags(fresh.broker, fresh.provider, providerVersionBranch="main") == {
        "1": (True, False)
    }

    verify_and_publish(fresh, "p1", "main")
    assert pending_flags(fresh.broker, fresh.provider, providerVersionBranch="main") == {
        "1": (False, False)
    }
    # A provider branch created after that verification inherits it (verified "before it existed").
    assert pending_flags(fresh.broker, fresh.provider, providerVersionBranch="new-branch") == {
        "1": (False, False)
    }
    # Without branch or tags: pending only if never verified by anyone.
    assert pending_flags(fresh.broker, fresh.provider) == {"1": (False, False)}

    fresh.publish("A", "2", ["/A/2"], "main")
    assert pending_flags(fresh.broker, fresh.provider, providerVersionBranch="main") == {
        "2": (True, False)
    }


def test_pending_by_provider_tag(fresh: Data) -> None:
    fresh.publish("A", "1", ["/A/1"], "main")
    verify_and_publish(fresh, "p1", "main", tags=["prod"])
    assert pending_flags(fresh.broker, fresh.provider, providerVersionTags=["prod"]) == {
        "1": (False, False)
    }
    # A tag first used after the verification still sees it as verified (before that tag existed).
    httpx.put(f"{fresh.broker.url}/pacticipants/{fresh.provider}/versions/p2/tags/staging", json={})
    assert pending_flags(fresh.broker, fresh.provider, providerVersionTags=["staging"]) == {
        "1": (False, False)
    }


def test_a_failing_pending_pact_does_not_fail_the_verification(fresh: Data) -> None:
    fresh.publish("A", "1", ["/A/1", "/A/broken"], "main")
    paths = verify_and_publish(fresh, "p1", "main")  # would raise if the failure counted
    assert set(paths) == {"/A/1", "/A/broken"}
    # It failed, so it is still pending for main...
    assert pending_flags(fresh.broker, fresh.provider, providerVersionBranch="main") == {
        "1": (True, False)
    }
    # ...and can-i-deploy's matrix records the failure.
    matrix = httpx.get(
        f"{fresh.broker.url}/matrix",
        params=[
            ("q[][pacticipant]", fresh.names["A"]),
            ("q[][version]", "1"),
            ("latestby", "cvp"),
            ("latest", "true"),
        ],
    ).json()
    assert matrix["summary"]["deployable"] is False


def test_wip_pacts_are_verified_as_pending_until_explicitly_selected(fresh: Data) -> None:
    fresh.publish("A", "1", ["/A/1"], "main")
    fresh.publish("A", "2", ["/A/wip"], "feat-new")  # a feature branch head: WIP
    fresh.publish("A", "3", ["/A/broken"], "feat-broken")  # another one, failing
    verify_and_publish(fresh, "p1", "main")  # main-branch pact only, to have a verified baseline

    flags = pending_flags(
        fresh.broker,
        fresh.provider,
        providerVersionBranch="main",
        includeWipPactsSince="2020-01-01",
        consumerVersionSelectors=[{"mainBranch": True}],
    )
    assert flags == {"1": (False, False), "2": (True, True), "3": (True, True)}
    # Not without a date, and not before the date.
    assert "2" not in pending_flags(
        fresh.broker,
        fresh.provider,
        providerVersionBranch="main",
        consumerVersionSelectors=[{"mainBranch": True}],
    )
    assert "2" not in pending_flags(
        fresh.broker,
        fresh.provider,
        providerVersionBranch="main",
        includeWipPactsSince="2999-01-01",
        consumerVersionSelectors=[{"mainBranch": True}],
    )

    # The verifier verifies the WIP pacts; a failure does not fail the build (WIP is pending).
    paths = verify_and_publish(fresh, "p2", "main", wip_since="2020-01-01")
    assert set(paths) == {"/A/1", "/A/wip", "/A/broken"}
    # Successfully verified while WIP does not take it out of WIP.
    flags = pending_flags(
        fresh.broker,
        fresh.provider,
        providerVersionBranch="main",
        includeWipPactsSince="2020-01-01",
        consumerVersionSelectors=[{"mainBranch": True}],
    )
    assert flags["2"] == (True, True)
    # Once selected explicitly and verified by main, it is neither WIP nor pending.
    explicit = [{"mainBranch": True}, {"branch": "feat-new"}]

    def configure(builder: Builder) -> Builder:
        return builder.provider_branch("main").consumer_version(branch="feat-new")

    with RecordingProvider() as server:
        verifier = (
            configure(
                Verifier(fresh.provider, host="127.0.0.1")
                .add_transport(url=server.url)
                .broker_source(fresh.broker.url, selector=True)
            )
            .build()
            .set_publish_options("p3", branch="main")
        )
        verifier.verify()
    flags = pending_flags(
        fresh.broker,
        fresh.provider,
        providerVersionBranch="main",
        includeWipPactsSince="2020-01-01",
        consumerVersionSelectors=explicit,
    )
    assert flags["2"] == (False, False)
    assert flags["3"] == (True, True)


def selected_versions(data: Data, selector: dict[str, Any]) -> set[str]:
    """The consumer versions whose pacts the broker selects for one selector."""
    body = httpx.post(
        f"{data.broker.url}/pacts/provider/{data.provider}/for-verification",
        json={"consumerVersionSelectors": [selector]},
    ).json()
    return {
        pact["_links"]["self"]["name"].split("(v")[1].split(")")[0]
        for pact in body["_embedded"]["pacts"]
    }


ENVIRONMENT_SELECTORS = [
    {"deployed": True},
    {"deployed": True, "environment": "production"},
    {"deployedOrReleased": True},
    {"environment": "production"},
]


@pytest.mark.parametrize("selector", ENVIRONMENT_SELECTORS, ids=str)
def test_a_version_deployed_over_is_no_longer_deployed(
    fresh: Data, selector: dict[str, Any]
) -> None:
    fresh.publish("A", "1", ["/A/1"], "main")
    fresh.publish("A", "2", ["/A/2"], "main")
    fresh.deploy("A", "1", "production")
    assert selected_versions(fresh, selector) == {"1"}
    # Deploying 2 to the same environment undeploys 1 (record-deployment's documented effect).
    fresh.deploy("A", "2", "production")
    assert selected_versions(fresh, selector) == {"2"}


@pytest.mark.parametrize("selector", ENVIRONMENT_SELECTORS, ids=str)
def test_an_undeployed_version_is_no_longer_deployed(fresh: Data, selector: dict[str, Any]) -> None:
    fresh.publish("A", "1", ["/A/1"], "main")
    fresh.deploy("A", "1", "production")
    assert selected_versions(fresh, selector) == {"1"}
    cli(fresh.broker, "record-undeployment", "-a", fresh.names["A"], "--environment", "production")
    assert selected_versions(fresh, selector) == set()
