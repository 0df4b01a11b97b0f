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
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
    "verifiers",
    "reliability",
    "verify",
    "verdict",
    "crosscheck",
    "report",
]

# The Pythons and frameworks come from pyproject.toml through the one module that reads them
# (standard library only, so the Python running nox can import it).
sys.path.insert(0, str(Path(__file__).parent))
from verification.project import ALL_CELLS, FRAMEWORKS, PYTHONS  # noqa: E402

PYPROJECT_BYTES = Path("pyproject.toml").read_bytes()
NEWEST_PYTHON = PYTHONS[-1]
RESULTS_DIR = Path("results")
# The embedded broker's data, kept across runs; `nox -s broker` serves the same file.
BROKER_DB = Path(os.environ.get("PACT_MATRIX_BROKER_DB") or "pact_broker.sqlite").resolve()
# A cell stops its provider (at most 5 s) once interrupted.
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


# One folder per `nox` run, shared with the processes `nox --parallel` runs the cells in: each
# cell writes its row of the summary table there, the first cell that needs the embedded broker
# leaves its URL there, and the verdict its answer. The nox process that names the folder
# prints the table and stops the broker; its workers inherit the name.
_RUN_DIR_VARIABLE = "PACT_MATRIX_RUN_DIR"
_RUN_OWNER_VARIABLE = "PACT_MATRIX_RUN_OWNER"
# A worker is a child of the nox process that named the folder (nox starts each one itself).
# Any other nox that inherits the variables, such as a test that runs nox in a clone from a
# session, is a run of its own: sharing the folder, it left its broker running for this run's
# cells to use, and this run's verdict found no broker of its own.
_MAIN_PROCESS = os.environ.get(_RUN_OWNER_VARIABLE) != str(os.getppid())
if _MAIN_PROCESS:
    os.environ[_RUN_DIR_VARIABLE] = str(
        Path(tempfile.gettempdir(), f"pact-matrix-run-{uuid.uuid4().hex}")
    )
    os.environ[_RUN_OWNER_VARIABLE] = str(os.getpid())
    # The run the cells' results belong to; CI names one for all the jobs of a workflow run.
    os.environ.setdefault("PACT_MATRIX_RUN", f"nox-{uuid.uuid4().hex[:12]}")
RUN_DIR = Path(os.environ[_RUN_DIR_VARIABLE])
_ROWS = RUN_DIR / "cells"
_VERDICT = RUN_DIR / "verdict.json"


def _record(run: CellRun) -> None:
    _ROWS.mkdir(parents=True, exist_ok=True)
    (_ROWS / f"{run.cell}.json").write_text(json.dumps(asdict(run)), encoding="utf-8")


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One process of this run at a time (cells under `nox --parallel` are processes)."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with open(RUN_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


_broker_process: subprocess.Popen[str] | None = None


def _embedded_broker(session: nox.Session) -> dict[str, str]:
    """The environment that names this run's embedded broker, which the first cell starts.

    The cells talk to it as to any broker, through PACT_BROKER_BASE_URL; it serves BROKER_DB
    (kept across runs) from the session's venv, in a process group of its own so that Ctrl-C
    reaches nox first, and nox stops it when the run ends.
    """
    global _broker_process
    url_file = RUN_DIR / "broker.url"
    with _locked("broker"):
        if not url_file.exists():
            log = RUN_DIR / "broker.log"
            with open(log, "ab") as stderr:
                process = subprocess.Popen(
                    [
                        Path(session.bin) / "python",
                        "-m",
                        "broker",
                        "--port",
                        "0",
                        "--db",
                        BROKER_DB,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    start_new_session=True,
                )
            assert process.stdout is not None
            announcement = process.stdout.readline()  # "Pact Broker listening on http://..."
            if "http://" not in announcement:
                session.error(f"the embedded broker did not start:\n{log.read_text('utf-8')}")
            _broker_process = process
            (RUN_DIR / "broker.pid").write_text(str(process.pid), encoding="utf-8")
            url_file.write_text(announcement.split()[-1], encoding="utf-8")
            session.log(
                f"embedded Pact Broker on {url_file.read_text('utf-8')}, data in {BROKER_DB}"
            )
    return {
        "PACT_BROKER_BASE_URL": url_file.read_text("utf-8"),
        "PACT_MATRIX_EMBEDDED_BROKER": "true",
    }


def _stop_embedded_broker() -> None:
    pid_file = RUN_DIR / "broker.pid"
    if not pid_file.exists():
        return
    if _broker_process is not None:  # started here: stop it and reap it
        _broker_process.terminate()
        _broker_process.wait(timeout=10)
        return
    pid = int(pid_file.read_text("utf-8"))  # started by a --parallel worker that has ended
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.05)


# The standard Pact filters (verification/settings.py reads them in the cells).
FILTER_VARIABLES = ("PACT_DESCRIPTION", "PACT_PROVIDER_STATE", "PACT_PROVIDER_NO_STATE")


def _filters_set() -> list[str]:
    """The filters this run sets: a run with any verifies part of the pacts, so no verdict."""
    return [
        name
        for name in FILTER_VARIABLES
        if os.environ.get(name, "").strip().lower() not in ("", "false", "0", "no")
    ]


def _whole_matrix_selected(session: nox.Session) -> bool:
    """Whether this nox run selected every cell of the matrix.

    nox says so only through the queue it runs (`session.notify` uses the same), which under
    --parallel holds one session per worker: there, name the verdict session in the command.
    """
    manifest = getattr(getattr(session, "_runner", None), "manifest", None)
    return manifest is not None and all(cell in manifest for cell in ALL_CELLS)


@nox.session(python=PYTHONS, tags=["verify"], allow_parallel=True)
@nox.parametrize("framework", [nox.param(name, id=name, tags=[name]) for name in FRAMEWORKS])
def verify(session: nox.Session, framework: str) -> None:
    """Verify one framework on one Python against the consumers' pacts from the broker.

    With PACT_BROKER_BASE_URL unset, the run's embedded broker (started by the first cell)
    holds this checkout's pacts. No cell publishes: after the whole matrix, `verdict` does.
    """
    started = time.perf_counter()
    cell = session.name
    result_file = RESULTS_DIR / f"{cell}.json"  # written by the cell's verification test
    result_file.unlink(missing_ok=True)
    outcome = "failed"
    try:
        if _whole_matrix_selected(session) and not _filters_set():
            session.notify("verdict")
        install(session, framework, "verify")
        env = {"PACT_DIR": f"{session.create_tmp()}/pacts", "PACT_RESULTS_DIR": str(RESULTS_DIR)}
        if not os.environ.get("PACT_BROKER_BASE_URL"):
            env |= _embedded_broker(session)
        session.run(
            "pytest",
            "tests/consumer",
            "tests/verification/test_verify_providers.py",
            f"--framework={framework}",
            "-p",
            "no:cacheprovider",
            *session.posargs,
            env=env,
            # On Ctrl-C, time for the cell to stop its provider before nox terminates it
            # (nox's default is 0.3 s).
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
            )
        )


# Not parallel: under `nox --parallel`, nox then starts it only once every cell has ended.
@nox.session(python=NEWEST_PYTHON, tags=["verdict"], allow_parallel=False)
def verdict(session: nox.Session) -> None:
    """Judge every cell's result in results/ together and tell the broker one verdict.

    A provider version is verified only if every cell passed; a cell with no result (did not
    run, crashed, no interpreter) fails it by name. `nox -s verify` runs it after the whole
    matrix; CI's final job runs it on the cells' downloaded results. It takes no arguments:
    those after `--` are the cells'.
    """
    install(session, "verify")
    env = {}
    if not os.environ.get("PACT_BROKER_BASE_URL") and BROKER_DB.exists():
        env = _embedded_broker(session)
    session.run(
        "python", "-m", "verification", "verdict", str(RESULTS_DIR), f"--summary={_VERDICT}",
        env=env,
    )  # fmt: skip


@atexit.register
def _end_of_run() -> None:
    """After `nox -s verify`: one table of what was verified where, and the verdict."""
    if not _MAIN_PROCESS:
        return
    try:
        _stop_embedded_broker()
        if _ROWS.is_dir():
            print(_summary(), flush=True)
    finally:
        shutil.rmtree(RUN_DIR, ignore_errors=True)


def _summary() -> str:
    runs = sorted(
        (CellRun(**json.loads(row.read_text("utf-8"))) for row in _ROWS.glob("*.json")),
        key=lambda run: ALL_CELLS.index(run.cell) if run.cell in ALL_CELLS else len(ALL_CELLS),
    )
    lines = [
        "",
        "| cell | result | interactions verified | seconds |",
        "|---|---|---:|---:|",
        *(
            f"| {run.cell} | {run.result} | "
            f"{'-' if run.interactions is None else run.interactions} | {run.seconds:.1f} |"
            for run in runs
        ),
        "",
    ]
    if _VERDICT.exists():
        verdict = json.loads(_VERDICT.read_text("utf-8"))
        lines.append(f"Verdict: {'verified' if verdict['success'] else 'NOT verified'}.")
        lines += [f"- {pact['line']}" for pact in verdict["pacts"]]
        if verdict["missing"]:
            lines.append(f"- cells with no result: {', '.join(verdict['missing'])}")
        if verdict["can_i_deploy"] is not None:
            answer = "yes" if verdict["can_i_deploy"] else "no"
            lines.append(f"`pact broker can-i-deploy` says {answer}.")
        elif not verdict["published"]:
            lines.append("The verdict was not published (see the verdict session's output).")
    elif _filters_set():
        lines.append(
            f"Filtered run ({', '.join(_filters_set())}): only the interactions the filters "
            "chose were verified, so no verdict was published."
        )
    elif len(runs) < len(ALL_CELLS):
        lines.append(
            f"Part of the matrix ({len(runs)} of {len(ALL_CELLS)} cells): no verdict published. "
            "`nox -s verify` runs the whole matrix and publishes one."
        )
    else:
        lines.append(
            "No verdict published: with --parallel, name the verdict session too "
            "(`nox -s verify verdict --parallel 2`)."
        )
    return "\n".join(lines)


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
        # The other verifiers need a venv of their own: the `verifiers` session runs them.
        "--ignore=tests/verifiers",
        *session.posargs,
    )


@nox.session(python=PYTHONS, tags=["checks"])
def crosscheck(session: nox.Session) -> None:
    """Every framework answers every generated request alike, and the cells' results agree.

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

    It serves the file `nox -s verify` keeps its broker in (PACT_MATRIX_BROKER_DB, else
    pact_broker.sqlite), so its page shows every provider version the matrix verified.
    For example: nox -s broker -- --port 9292 --log-level info
    """
    install(session, "broker")
    database = [] if "--db" in session.posargs else ["--db", str(BROKER_DB)]
    session.run("python", "-m", "broker", *database, *session.posargs)


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


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def verifiers(session: nox.Session) -> None:
    """Every other verifier against every framework: pact_verifier_cli and the Ruby
    pact-provider-verifier (pact-python-cli 2.5.7.0, in this session's venv of its own), and
    pact-js (npm ci in verifiers/pact-js). Each must pass this checkout's pact on a healthy
    provider and fail it on a broken one. Arguments go to pytest.
    """
    install(session, "verifiers")
    # npm ci: exactly what verifiers/pact-js/package-lock.json pins, nothing newer.
    session.run(
        "npm", "ci", "--prefix", "verifiers/pact-js", "--no-audit", "--no-fund", external=True
    )
    # The pacts the consumer tests write now, so that the verifiers check this checkout's: V4,
    # and V3 for the Ruby verifier, which reads nothing newer.
    tmp = session.create_tmp()
    env = {"PACT_DIR": f"{tmp}/pacts", "PACT_V3_DIR": f"{tmp}/pacts-v3"}
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", "-q", env=env)
    v3 = {"PACT_DIR": env["PACT_V3_DIR"], "PACT_SPECIFICATION": "V3"}
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", "-q", env=v3)
    session.run("pytest", "tests/verifiers", "-p", "no:cacheprovider", *session.posargs, env=env)


@nox.session(python=NEWEST_PYTHON, default=False)
def provider(session: nox.Session) -> None:
    """One framework's provider with its state endpoint, in the foreground until Ctrl-C.

        nox -s provider -- flask [--port 8000]

    It serves 127.0.0.1 (a free port unless --port), with the state secret PACT_STATE_SECRET
    names (else one made for the run), and prints how each verifier is pointed at it.
    """
    framework = next((arg for arg in session.posargs if arg in FRAMEWORKS), None)
    if framework is None:
        session.error(f"name the framework to serve: nox -s provider -- {'|'.join(FRAMEWORKS)}")
    install(session, framework)
    session.run("python", "-m", "providers", *session.posargs, interrupt_timeout=10.0)


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
