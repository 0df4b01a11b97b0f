"""Every verifier that installs here verifies the project's pact against every framework: it
passes on the healthy provider and fails on one broken on purpose.

Run by `nox -s verifiers`, in a venv of its own: pact_verifier_cli and the Ruby
pact-provider-verifier come from pact-python-cli 2.5.7.0, pact-js from verifiers/pact-js
(npm ci), pact-python 4's Verifier from the venv. Each verifier drives the state endpoint in
its own dialect; the provider runs in this process on a loopback port, with a secret.

The consumer tests write the V4 pact to `PACT_DIR`, which every verifier reads but the Ruby
one; it reads V3 only, so it gets the V3 pact the same tests write to `PACT_V3_DIR` (run with
`PACT_SPECIFICATION=V3`).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier

from matrix import CONSUMER, FRAMEWORKS, PROJECT_ROOT, PROVIDER
from providers.api import STATE_PATH, STATE_SECRET_HEADER
from tests.broken_store import WRONG_NAME, MisnamingStore
from tests.provider_under_test import ProviderUnderTest, running_provider

BIN = Path(sys.executable).parent
PACT_JS = PROJECT_ROOT / "verifiers" / "pact-js"
# The interaction a broken provider breaks (see MisnamingStore).
BROKEN_INTERACTION = "a request for user 42"
TIMEOUT = 120


@dataclass(frozen=True)
class Outcome:
    passed: bool
    output: str


PACT_NAME = f"{CONSUMER}-{PROVIDER}.json"


def _pact(variable: str, default: str, specification: str) -> Path:
    path = Path(os.environ.get(variable) or PROJECT_ROOT / default) / PACT_NAME
    assert path.is_file(), (
        f"no pact at {path}: `nox -s verifiers` writes it"
        f" (or `PACT_SPECIFICATION={specification} PACT_DIR={default} nox -s pacts`)"
    )
    return path


@pytest.fixture(scope="module")
def pact_file() -> Path:
    return _pact("PACT_DIR", "pacts", "V4")


@pytest.fixture(scope="module")
def pact_v3_file() -> Path:
    return _pact("PACT_V3_DIR", "pacts-v3", "V3")


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return document


@pytest.fixture(scope="module")
def descriptions(pact_file: Path) -> list[str]:
    found = [i["description"] for i in _document(pact_file)["interactions"]]
    assert len(found) >= 6, found
    return found


def test_the_consumer_wrote_one_contract_as_v4_and_as_v3(
    pact_file: Path, pact_v3_file: Path, descriptions: list[str]
) -> None:
    """The Ruby verifier's V3 pact holds the same interactions as the V4 pact the rest read."""
    v4, v3 = _document(pact_file), _document(pact_v3_file)
    assert v4["metadata"]["pactSpecification"]["version"] == "4.0"
    assert v3["metadata"]["pactSpecification"]["version"] == "3.0.0"
    assert {i.get("type") for i in v4["interactions"]} == {"Synchronous/HTTP"}
    assert sorted(i["description"] for i in v3["interactions"]) == sorted(descriptions)


@pytest.fixture
def secret() -> str:
    # A throwaway secret per test, known to this process and the verifier it starts only.
    return secrets.token_urlsafe(16)


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def healthy(framework: str, secret: str) -> Iterator[ProviderUnderTest]:
    with running_provider(framework, state_secret=secret) as provider:
        yield provider


@pytest.fixture
def broken(framework: str, secret: str) -> Iterator[ProviderUnderTest]:
    with running_provider(framework, MisnamingStore(), state_secret=secret) as provider:
        yield provider


def run(command: list[str], env: dict[str, str] | None = None) -> Outcome:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PACT_DO_NOT_TRACK": "true", **(env or {})},
        check=False,
    )
    return Outcome(done.returncode == 0, done.stdout + done.stderr)


def pact_python(provider: ProviderUnderTest, pact: Path, secret: str) -> Outcome:
    return _pact_python(provider, pact, secret, body=True, teardown=True)


def pact_python_query(provider: ProviderUnderTest, pact: Path, secret: str) -> Outcome:
    # The query-string form, every value a string, and no teardowns.
    return _pact_python(provider, pact, secret, body=False, teardown=False)


def _pact_python(
    provider: ProviderUnderTest, pact: Path, secret: str, *, body: bool, teardown: bool
) -> Outcome:
    verifier = (
        Verifier(PROVIDER, host="127.0.0.1")
        .add_transport(url=provider.url)
        .add_source(str(pact))
        .state_handler(f"{provider.url}{STATE_PATH}", body=body, teardown=teardown)
        .add_custom_header(STATE_SECRET_HEADER, secret)
        .set_coloured_output(enabled=False)
    )
    try:
        verifier.verify()
        passed = True
    except RuntimeError:
        passed = False
    verified = len(verifier.results.get("interactionResults", []))
    return Outcome(passed, f"{verifier.output(strip_ansi=True)}\n{verified} interactions verified")


def pact_verifier_cli(provider: ProviderUnderTest, pact: Path, secret: str) -> Outcome:
    port = provider.url.rsplit(":", 1)[1]
    # Without teardowns, as a user would run it first: the reset rule must hold without them.
    # This CLI takes custom headers only as arguments: the secret is a throwaway one.
    return run(
        [
            str(BIN / "pact_verifier_cli"),
            "--file",
            str(pact),
            "--provider-name",
            PROVIDER,
            "--hostname",
            "127.0.0.1",
            "--port",
            port,
            "--state-change-url",
            f"{provider.url}{STATE_PATH}",
            "--header",
            f"{STATE_SECRET_HEADER}={secret}",
        ]
    )


def ruby_verifier(provider: ProviderUnderTest, pact: Path, secret: str) -> Outcome:
    # The secret through the environment the verifier reads it from, not its command line.
    return run(
        [
            str(BIN / "pact-provider-verifier"),
            str(pact),
            "--provider",
            PROVIDER,
            "--provider-base-url",
            provider.url,
            "--provider-states-setup-url",
            f"{provider.url}{STATE_PATH}",
        ],
        env={"CUSTOM_PROVIDER_HEADER": f"{STATE_SECRET_HEADER}: {secret}"},
    )


def pact_js(provider: ProviderUnderTest, pact: Path, secret: str) -> Outcome:
    assert (PACT_JS / "node_modules").is_dir(), "run `npm ci` in verifiers/pact-js first"
    return run(
        [
            "node",
            str(PACT_JS / "verify.mjs"),
            "--provider-base-url",
            provider.url,
            "--pact",
            str(pact),
            "--state-url",
            f"{provider.url}{STATE_PATH}",
        ],
        env={"PACT_STATE_SECRET": secret},
    )


VERIFIERS: dict[str, Callable[[ProviderUnderTest, Path, str], Outcome]] = {
    "pact-python": pact_python,
    "pact-python-query": pact_python_query,
    "pact_verifier_cli": pact_verifier_cli,
    "pact-provider-verifier": ruby_verifier,
    "pact-js": pact_js,
}
# It misreads V4 bodies and headers (5 of 6 interactions fail on the V4 pact).
READS_V3_ONLY = {"pact-provider-verifier"}


@pytest.mark.parametrize("verifier", list(VERIFIERS))
def test_the_verifier_passes_the_pact_on_a_healthy_provider(
    verifier: str,
    healthy: ProviderUnderTest,
    pact_file: Path,
    pact_v3_file: Path,
    secret: str,
    descriptions: list[str],
) -> None:
    pact = pact_v3_file if verifier in READS_V3_ONLY else pact_file
    outcome = VERIFIERS[verifier](healthy, pact, secret)
    assert outcome.passed, outcome.output
    # Every interaction was verified, none skipped: each is named in the verifier's report
    # (the Ruby verifier capitalises some).
    missing = [d for d in descriptions if d.lower() not in outcome.output.lower()]
    assert not missing, f"not verified: {missing}\n{outcome.output}"
    if verifier == "pact-provider-verifier":
        assert f"{len(descriptions)} interactions, 0 failures" in outcome.output
    if verifier.startswith("pact-python"):
        assert f"{len(descriptions)} interactions verified" in outcome.output
    assert secret not in outcome.output


@pytest.mark.parametrize("verifier", list(VERIFIERS))
def test_the_verifier_fails_the_pact_on_a_broken_provider(
    verifier: str, broken: ProviderUnderTest, pact_file: Path, pact_v3_file: Path, secret: str
) -> None:
    pact = pact_v3_file if verifier in READS_V3_ONLY else pact_file
    outcome = VERIFIERS[verifier](broken, pact, secret)
    assert not outcome.passed, outcome.output
    assert BROKEN_INTERACTION in outcome.output
    assert WRONG_NAME in outcome.output, outcome.output


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_command_the_foreground_provider_prints_verifies_it(
    framework: str, pact_file: Path, pact_v3_file: Path, descriptions: list[str]
) -> None:
    """`nox -s provider` prints a command per verifier: each, run as printed (with the pacts
    written here in place of pacts/ and pacts-v3/), passes against that provider."""
    secret = secrets.token_urlsafe(16)
    process = subprocess.Popen(
        [sys.executable, "-m", "providers", framework],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PACT_STATE_SECRET": secret},
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Rerun one interaction"):
                break
        commands = {
            title.split(" ", 1)[0]: command.strip()
            for title, command in itertools.pairwise(banner)
            if title.startswith(("pact-python 4", "pact_verifier_cli", "pact-provider", "pact-js"))
        }
        assert set(commands) == set(VERIFIERS) - {"pact-python-query"}
        env = {
            **os.environ,
            "PACT_STATE_SECRET": secret,
            "PACT_DO_NOT_TRACK": "true",
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        for name, command in commands.items():
            command = command.replace(f"pacts-v3/{PACT_NAME}", str(pact_v3_file))
            command = command.replace(f"pacts/{PACT_NAME}", str(pact_file))
            if name == "pact-python":
                argv = [sys.executable, "-c", f"import os\nfrom pact import Verifier\n{command}"]
            else:
                argv = ["bash", "-c", command]
            done = subprocess.run(
                argv, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env,
                timeout=TIMEOUT, check=False,
            )  # fmt: skip
            output = done.stdout + done.stderr
            assert done.returncode == 0, f"{name}: {command}\n{output}"
            if name != "pact-python":  # its verify() prints nothing on success
                missing = [d for d in descriptions if d.lower() not in output.lower()]
                assert not missing, f"{name} did not verify {missing}\n{output}"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
