"""The pact-matrix sessions: verify every framework on every supported Python, and the checks around it.

Every fact comes from pyproject.toml: the Pythons (its classifiers), the frameworks
(`[tool.pact-matrix] frameworks`) and each session's dependencies (its dependency groups,
pinned by uv.lock).
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
# A missing interpreter must fail fast, never trigger a download from the network.
nox.options.download_python = "never"
nox.options.sessions = ["lint", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS: list[str] = nox.project.python_versions(PYPROJECT)
NEWEST_PYTHON = PYTHONS[-1]
FRAMEWORKS: list[str] = PYPROJECT["tool"]["pact-matrix"]["frameworks"]

# Telemetry off for every pact tool: blocked telemetry once made a verification take 17 minutes.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


def install(session: nox.Session, *groups: str) -> None:
    """Install the project and the given dependency groups, pinned by uv.lock where uv is the backend."""
    if session.venv_backend == "uv":
        session.run_install(
            "uv",
            "sync",
            "--locked",
            "--no-default-groups",
            *(f"--group={group}" for group in groups),
            env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        )
    else:
        session.install("-e", ".", *(f"--group={group}" for group in groups))


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict over the whole project."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def tests(session: nox.Session) -> None:
    """The test suite."""
    install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS, tags=["checks"])
def crosscheck(session: nox.Session) -> None:
    """Differential checks: Flask and FastAPI answer every generated request alike.

    CROSSCHECK_EXAMPLES sets the hypothesis examples per test (default 1000; the test suite
    runs 200). Extra arguments go to pytest.
    """
    install(session, "test")
    examples = os.environ.get("CROSSCHECK_EXAMPLES", "1000")
    session.run(
        "pytest",
        "tests/crosscheck",
        "--hypothesis-show-statistics",
        *session.posargs,
        env={"CROSSCHECK_EXAMPLES": examples},
    )


@nox.session(python=NEWEST_PYTHON, default=False)
def broker(session: nox.Session) -> None:
    """The embedded Pact Broker in the foreground (Ctrl-C stops it); arguments go to it.

    For example: nox -s broker -- --port 9292 --db pact_broker.sqlite --log-level info
    """
    install(session, "broker")
    session.run("python", "-m", "broker", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["bench"], default=False)
def bench_broker(session: nox.Session) -> None:
    """Publish and pacts-for-verification latency of the broker at 10 to 10,000 versions."""
    install(session, "broker", "consumer")
    session.run("python", "-m", "broker.bench", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def ruby_broker_client(session: nox.Session) -> None:
    """The broker driven by the Ruby pact-broker client, which cannot share the tests' venv."""
    install(session, "ruby-broker-client")
    session.run("pytest", "tests/broker/test_broker_ruby_client.py", *session.posargs)
