"""pact-matrix sessions: verify every framework on every supported Python, and the checks around it.

Every fact comes from pyproject.toml: the Pythons (its classifiers), the frameworks
(`[tool.pact-matrix] frameworks`) and each session's dependencies (its dependency groups,
pinned by uv.lock).

    nox -s verify                 # every cell: each framework on each Python
    nox -s "verify-3.12(flask)"   # one cell
    nox -t fastapi                # one framework on every Python
    nox -s verify --parallel 2    # two cells at a time (nox's --parallel is experimental)

    # The matrix report (nox does not create the folder of its --report file):
    mkdir -p results/nox && nox -t verify --report results/nox/verify.json; nox -s report
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nox

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
# A missing interpreter must fail fast, never trigger a download from the network.
nox.options.download_python = "never"
# `nox` alone runs these, in this order: the checks, every verification cell, then the
# comparisons and the report that read the cells' results.
nox.options.sessions = [
    "lint",
    "tests",
    "ruby_broker_client",
    "reliability",
    "verify",
    "crosscheck",
    "report",
]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYPROJECT_BYTES = Path("pyproject.toml").read_bytes()
PYTHONS: list[str] = nox.project.python_versions(PYPROJECT)
NEWEST_PYTHON = PYTHONS[-1]
FRAMEWORKS: list[str] = PYPROJECT["tool"]["pact-matrix"]["frameworks"]
RESULTS_DIR = Path("results")
# A cell stops its provider (at most 5 s) and its broker (5 s) once interrupted.
CELL_INTERRUPT_TIMEOUT = 15.0

# Telemetry off for every pact tool: blocked telemetry once made a verification take 17 minutes.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


def _expose_pyenv_pythons() -> None:
    """Let nox find the supported Pythons that pyenv has installed but not activated.

    pyenv's shims answer only for the active versions, so `python3.12` is "not found" even
    when pyenv has it. Activating the newest installed patch release of each supported
    Python (unless PYENV_VERSION already chooses) saves every user that step.
    """
    if "PYENV_VERSION" in os.environ or shutil.which("pyenv") is None:
        return
    installed = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    chosen = []
    for python in PYTHONS:
        releases = [v for v in installed if re.fullmatch(rf"{re.escape(python)}\.\d+", v)]
        if releases:
            chosen.append(max(releases, key=lambda v: tuple(map(int, v.split(".")))))
    if chosen:
        os.environ["PYENV_VERSION"] = ":".join(chosen)


_expose_pyenv_pythons()


def install(session: nox.Session, *groups: str) -> None:
    """Install the project and these dependency groups, pinned by uv.lock when uv is the backend."""
    cache_bytecode_in_venv(session)
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
        # pip takes ~4 s per cell to find that a reused venv is already up to date (uv: 0.02 s),
        # so it runs only when what it installs from changed since it last ran in this venv.
        stamp = Path(session.virtualenv.location, ".pact-matrix-installed")
        wanted = hashlib.sha256(PYPROJECT_BYTES + repr(groups).encode()).hexdigest()
        if stamp.is_file() and stamp.read_text("utf-8") == wanted:
            session.log("pyproject.toml and the groups are unchanged: pip install skipped")
            return
        session.install("-e", ".", *(f"--group={group}" for group in groups))
        stamp.write_text(wanted, encoding="utf-8")


def cache_bytecode_in_venv(session: nox.Session) -> None:
    """Let the session's Pythons keep compiled bytecode, in the session's own venv.

    With PYTHONDONTWRITEBYTECODE set (as on this project's machines and CI), every process
    compiled every module it imported, every time: about 1.5 s of each verification cell's
    3 s. The venv is nox's cache already, and the bytecode goes there, never beside the
    sources.
    """
    session.env["PYTHONDONTWRITEBYTECODE"] = None  # None: removed from the environment
    session.env["PYTHONPYCACHEPREFIX"] = os.path.join(session.virtualenv.location, "pycache")


@dataclass
class CellRun:
    cell: str
    result: str
    interactions: int | None
    seconds: float
    # For the publishing cell: what `pact broker can-i-deploy` said of the results.
    deployable: bool | None = None


# Each cell writes its row of the summary table to a file in this folder, so that the table
# also covers cells that `nox --parallel` runs in worker processes. The nox process that names
# the folder prints the table; its workers inherit the name and only write rows.
_SUMMARY_VARIABLE = "PACT_MATRIX_SUMMARY_DIR"
_PRINTS_SUMMARY = _SUMMARY_VARIABLE not in os.environ
if _PRINTS_SUMMARY:
    os.environ[_SUMMARY_VARIABLE] = str(
        Path(tempfile.gettempdir(), f"pact-matrix-summary-{os.getpid()}")
    )


def _record(run: CellRun) -> None:
    folder = Path(os.environ[_SUMMARY_VARIABLE])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run.cell}.json").write_text(json.dumps(asdict(run)), encoding="utf-8")


# allow_parallel: cells share nothing (each has its own venv, pacts folder, embedded broker and
# result file), so `nox -s verify --parallel 2` may run two at once; see the module docstring.
@nox.session(python=PYTHONS, tags=["verify"], allow_parallel=True)
@nox.parametrize("framework", [nox.param(name, id=name, tags=[name]) for name in FRAMEWORKS])
def verify(session: nox.Session, framework: str) -> None:
    """Verify one framework on one Python against the consumers' pacts from the broker.

    With PACT_BROKER_BASE_URL unset, the cell starts the embedded broker, writes the
    consumer pacts and publishes them with the real `pact broker publish` first.
    """
    started = time.perf_counter()
    cell = session.name
    result_file = RESULTS_DIR / f"{cell}.json"  # written by the cell's verification test
    result_file.unlink(missing_ok=True)
    outcome = "failed"
    try:
        install(session, framework, "verify")
        session.run(
            "pytest",
            "tests/consumer",
            "tests/verification/test_verify_providers.py",
            f"--framework={framework}",
            "-p",
            "no:cacheprovider",
            *session.posargs,
            env={"PACT_DIR": f"{session.create_tmp()}/pacts", "PACT_RESULTS_DIR": str(RESULTS_DIR)},
            # On Ctrl-C, time for the cell to stop its provider and broker before nox
            # terminates it (nox's default is 0.3 s).
            interrupt_timeout=CELL_INTERRUPT_TIMEOUT,
        )
        outcome = "passed"
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    finally:
        result = json.loads(result_file.read_text("utf-8")) if result_file.exists() else {}
        _record(
            CellRun(
                cell,
                outcome,
                len(result["interactions"]) if result else None,
                time.perf_counter() - started,
                result.get("deployable"),
            )
        )


@atexit.register
def _print_matrix_summary() -> None:
    """After `nox -s verify`, one table of what was verified where, in matrix order."""
    folder = Path(os.environ[_SUMMARY_VARIABLE])
    if not _PRINTS_SUMMARY or not folder.is_dir():
        return
    order = [f"verify-{python}({framework})" for python in PYTHONS for framework in FRAMEWORKS]
    runs = sorted(
        (CellRun(**json.loads(row.read_text("utf-8"))) for row in folder.glob("*.json")),
        key=lambda run: order.index(run.cell) if run.cell in order else len(order),
    )
    shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "",
        "| cell | result | interactions verified | seconds |",
        "|---|---|---:|---:|",
        *(
            f"| {run.cell} | {run.result} | "
            f"{'-' if run.interactions is None else run.interactions} | {run.seconds:.1f} |"
            for run in runs
        ),
        *(
            f"\n{run.cell} published its results; `pact broker can-i-deploy` says "
            f"{'yes' if run.deployable else 'no'}."
            for run in runs
            if run.deployable is not None
        ),
    ]
    print("\n".join(lines), flush=True)


@nox.session(python=NEWEST_PYTHON, tags=["pacts"])
def pacts(session: nox.Session) -> None:
    """Run the consumer contract tests, which write the consumer's pacts to pacts/."""
    install(session, "verify")
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["pacts"])
def publish(session: nox.Session) -> None:
    """Publish pacts/ to the broker at PACT_BROKER_BASE_URL with the real `pact broker publish`."""
    if not os.environ.get("PACT_BROKER_BASE_URL"):
        session.error("set PACT_BROKER_BASE_URL (and credentials) to the broker to publish to")
    install(session, "verify")
    session.run("python", "-m", "verification", "publish", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict over the whole project."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def tests(session: nox.Session) -> None:
    """The test suite; the verification cells and the Ruby client have sessions of their own."""
    install(session, "test")
    session.run(
        "pytest",
        "--ignore=tests/verification/test_verify_providers.py",
        "--ignore=tests/broker/test_broker_ruby_client.py",
        *session.posargs,
    )


@nox.session(python=PYTHONS, tags=["checks"])
def crosscheck(session: nox.Session) -> None:
    """Flask and FastAPI answer every generated request alike, and the cells' results agree.

    CROSSCHECK_EXAMPLES sets the hypothesis examples per test (default 1000; the test suite
    runs 200). Extra arguments go to pytest. The cells' results in results/, when there are
    any, must agree wherever the cells verified the same pacts.
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
    if any(RESULTS_DIR.glob("*.json")):
        session.run("python", "-m", "verification", "compare", str(RESULTS_DIR))
    else:
        session.log(f"No cell results in {RESULTS_DIR}/ to compare: run `nox -s verify` first.")


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


@nox.session(python=NEWEST_PYTHON, tags=["bench"], default=False)
def bench(session: nox.Session) -> None:
    """Every measurement of issue 7 against its limit, as a table printed and written to
    BENCHMARKS.md. Arguments go to `python -m benchmarks` (see --help)."""
    install(session, "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def ruby_broker_client(session: nox.Session) -> None:
    """The broker driven by the Ruby pact-broker client, which cannot share the tests' venv."""
    install(session, "ruby-broker-client")
    session.run("pytest", "tests/broker/test_broker_ruby_client.py", *session.posargs)


# No python=: it only reads and writes files, so the Python that runs nox will do, and CI's
# final job needs no interpreter of the matrix.
@nox.session(tags=["report"])
def report(session: nox.Session) -> None:
    """The matrix as Markdown and HTML (results/report.md, .html), then the cross-cell comparison.

    It reads the cells' results in results/ and the `nox --report` files in results/nox/
    (see the commands at the top of this file).
    """
    install(session, "report")
    session.run(
        "python",
        "-m",
        "verification",
        "report",
        f"--results={RESULTS_DIR}",
        f"--markdown={RESULTS_DIR / 'report.md'}",
        f"--html={RESULTS_DIR / 'report.html'}",
        *session.posargs,
    )
    session.run("python", "-m", "verification", "compare", str(RESULTS_DIR))


@nox.session(python=NEWEST_PYTHON, tags=["checks"], default=False)
def reliability(session: nox.Session) -> None:
    """tests/reliability at full strength: the broker under 10x the load, 10x the fuzzing, two
    whole `nox -s verify` matrices at once from two clones, and Ctrl-C during `nox -s verify`;
    and the suite's broker fuzz randomized (the suite runs it derandomized) with 4x the examples.

    The test suite runs the same tests lighter and skips the two last ones. It needs this
    checkout's changes committed: the clones are of HEAD.
    """
    install(session, "test")
    session.run(
        "pytest",
        "tests/reliability",
        "tests/broker/test_broker_fuzz.py",
        *session.posargs,
        env={
            "RELIABILITY_FULL": "1",
            "RELIABILITY_VERSIONS_PER_PUBLISHER": "30",
            "RELIABILITY_SCHEMATHESIS_EXAMPLES": "60",
            "RELIABILITY_HYPOTHESIS_EXAMPLES": "600",
        },
    )
