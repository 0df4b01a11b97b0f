"""Auth on every endpoint for every kind of caller; secrets compared in constant time, not logged.

The endpoints are the broker's own: every operation in its OpenAPI document, plus the
document itself and a path that does not exist (auth comes before routing). A refused request
changes nothing.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import providers.api
from broker import auth
from broker.auth import READ_ONLY_POST, SAFE_METHODS, Credentials
from broker.testing import RunningBroker, pact_document, publish_body, start_broker
from tests.reliability.conftest import note

# Distinctive, so that a search of the log cannot miss them.
WRITER = ("ci-writer", "w-S3cret-7f1c9a")
READER = ("ci-reader", "r-S3cret-b2d04e")
WRONG = ("ci-writer", "wrong-S3cret-55aa")
PUBLIC = {"/diagnostic/status/heartbeat"}
# Values for the path parameters, for an endpoint to reach its own code rather than a 404.
PARAMETERS = {
    "provider": "auth-provider",
    "consumer": "auth-consumer",
    "pacticipant": "auth-consumer",
    "version": "1",
    "tag": "prod",
    "branch": "main",
    "uuid": "00000000-0000-4000-8000-000000000001",
}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("log") / "broker.log"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, log: Path) -> Iterator[RunningBroker]:
    env = {
        "PACT_BROKER_BASIC_AUTH_USERNAME": WRITER[0],
        "PACT_BROKER_BASIC_AUTH_PASSWORD": WRITER[1],
        "PACT_BROKER_BASIC_AUTH_READ_ONLY_USERNAME": READER[0],
        "PACT_BROKER_BASIC_AUTH_READ_ONLY_PASSWORD": READER[1],
    }
    with log.open("w") as log_file:
        running = start_broker(
            tmp_path_factory.mktemp("broker") / "auth.sqlite",
            env=env,
            extra_args=["--log-level", "debug"],  # the most it ever logs
            stderr=log_file,
        )
        document = pact_document("auth-consumer", "auth-provider", ["/a"])
        body = publish_body(document, "1", branch="main", tags=["prod"])
        httpx.post(f"{running.url}/contracts/publish", json=body, auth=WRITER).raise_for_status()
        yield running
        assert running.stop() == 0


def endpoints(broker: RunningBroker) -> list[tuple[str, str]]:
    document = httpx.get(f"{broker.url}/openapi.json", auth=READER).json()
    found = [
        (method.upper(), re.sub(r"{(\w+)}", lambda m: PARAMETERS.get(m[1], "x"), path))
        for path, operations in document["paths"].items()
        for method in operations
    ]
    return [*found, ("GET", "/openapi.json"), ("GET", "/no/such/path"), ("POST", "/no/such/path")]


def dump(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()


def may_write(method: str, path: str) -> bool:
    return method not in SAFE_METHODS and not READ_ONLY_POST.match(path)


@pytest.fixture(scope="module")
def wrong_answers(broker: RunningBroker) -> list[str]:
    """Every endpoint x every kind of caller: the answers that were not the intended one."""
    wrong_answers: list[str] = []
    checked = 0
    client = httpx.Client(base_url=broker.url, timeout=30)
    for method, path in endpoints(broker):
        for caller, credentials in (
            ("nobody", None),
            ("wrong password", WRONG),
            ("read-only user", READER),
            ("read-write user", WRITER),
        ):
            before = dump(broker.database)
            response = client.request(method, path, auth=credentials, json={})
            checked += 1
            if path in PUBLIC or caller == "read-write user":
                intended = "not 401/403"
                right = response.status_code not in (401, 403)
            elif caller in ("nobody", "wrong password"):
                intended = "401 with a Basic challenge"
                right = response.status_code == 401 and response.headers.get(
                    "www-authenticate", ""
                ).startswith("Basic")
            elif may_write(method, path):
                intended = "403"
                right = response.status_code == 403
            else:
                intended = "not 401/403"
                right = response.status_code not in (401, 403)
            assert response.status_code < 500, (method, path, caller, response.text[:300])
            if response.status_code in (401, 403):
                assert response.json()["errors"], response.text
                assert dump(broker.database) == before, (method, path, caller)
            if not right:
                wrong_answers.append(
                    f"{method} {path} as {caller}: {response.status_code}, intended {intended}"
                )
    client.close()
    note("broker", f"auth: {checked} requests ({checked // 4} endpoints x 4 callers)")
    assert checked >= 4 * 64
    return wrong_answers


def test_every_endpoint_answers_each_kind_of_caller_as_intended(wrong_answers: list[str]) -> None:
    assert not wrong_answers, "\n".join(wrong_answers)


def test_no_credential_ever_reaches_the_log(wrong_answers: list[str], log: Path) -> None:
    # After every kind of request with every kind of credential, refused and accepted alike.
    logged = log.read_text()
    assert "GET /" in logged  # the access log is on: there was something to leak into
    for username, password in (WRITER, READER, WRONG):
        for secret in (
            password,
            base64.b64encode(f"{username}:{password}".encode()).decode(),
        ):
            assert secret not in logged


def _compared_names(tree: ast.AST) -> set[str]:
    """Names and attributes compared with `==` or `!=` to anything but a literal."""
    names: set[str] = set()
    for node in ast.walk(tree):
        sides = [node.left, *node.comparators] if isinstance(node, ast.Compare) else []
        if (
            isinstance(node, ast.Compare)
            and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
            and not any(isinstance(side, ast.Constant) for side in sides)
        ):
            for side in sides:
                names |= {n.id for n in ast.walk(side) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(side) if isinstance(n, ast.Attribute)}
    return names


@pytest.mark.parametrize(
    ("module", "secrets"),
    [(auth, {"password", "username"}), (providers.api, {"secret", "presented_secret"})],
)
def test_secrets_are_compared_in_constant_time(module: object, secrets: set[str]) -> None:
    source = inspect.getsource(module)  # type: ignore[arg-type]
    tree = ast.parse(source)
    # `==` stops at the first differing character: how long it takes tells how much was right.
    assert not (_compared_names(tree) & secrets), _compared_names(tree) & secrets
    assert re.search(r"\b(secrets|hmac)\.compare_digest\(", source)


# What an Authorization header can carry: UTF-8 text (lone surrogates cannot be sent).
UTF8_TEXT = st.text(st.characters(codec="utf-8"))


# No deadline: hypothesis's default (200 ms per example) is a wall-clock limit that a loaded
# machine can break, and the time this takes is not what the test is about.
@settings(deadline=None)
@given(password=UTF8_TEXT.filter(bool), attempt=UTF8_TEXT)
def test_only_the_exact_password_matches(password: str, attempt: str) -> None:
    credentials = Credentials("user", password)
    assert credentials.match("user", attempt) == (attempt == password)
    assert not credentials.match("user", password + "x")
    assert not credentials.match("User", password)
