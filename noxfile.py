"""pact-matrix: verify every framework on every supported Python, then tell the broker one verdict.

    nox                           # every check, the whole matrix, its verdict, the report
    nox -s verify                 # every cell (a framework series on a Python), then the verdict
    nox -s "verify-3.12(flask-3.1)"  # one cell: reported, never judged (exits non-zero)
    nox -t django                 # one framework, each of its series on every Python
    nox -s verify verdict --parallel 3   # cells at once: name the verdict
    nox -s watch -- flask         # one framework verified again after every save, until Ctrl-C

The Pythons, frameworks and dependencies come from pyproject.toml; the run's machinery (its
folder, its embedded broker, its verdict's gate and summary) is `verification/run.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))
import matrix
from matrix import FRAMEWORKS, PYTHONS, SERIES
from verification import canary, run

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
# A missing interpreter fails its session, on CI or not, and is never downloaded.
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"

PYPROJECT = nox.project.load_toml("pyproject.toml")
NEWEST_PYTHON = PYTHONS[-1]
# Every framework at its newest series: what the checks, the verifiers and the bench install.
NEWEST = [matrix.newest(framework).name for framework in FRAMEWORKS]
# `nox -l` shows this docstring first: with the cells the matrix leaves out, and why.
__doc__ = f"{__doc__}\nLeft out: " + "; ".join(f"{c}: {why}" for c, why in matrix.LEFT_OUT.items())
# The embedded broker's data, kept across runs; `nox -s broker` serves the same file.
BROKER_DB = Path(os.environ.get("PACT_MATRIX_BROKER_DB") or "pact_broker.sqlite").resolve()
# .nox, unless another nox in this checkout is using it: then virtualenvs of this nox's own.
nox.options.envdir = run.Virtualenvs(run.ENVDIR)


def install(session: nox.Session, *groups: str) -> None:
    """The project and these dependency groups, pinned by uv.lock (pip, when uv is missing)."""
    keep_bytecode(session, session.virtualenv.location)
    if os.environ.get(canary.VARIABLE):
        # The canary's copy: the newest releases this Python can run, whatever uv.lock pins.
        session.run_install(
            "uv", "pip", "install", "--upgrade", "-e", ".", *(f"--group={g}" for g in groups),
            f"--python={session.virtualenv.location}",
        )  # fmt: skip
        return
    if session.venv_backend != "uv":
        session.install("-e", ".", *(f"--group={group}" for group in groups))
        return
    session.run_install(
        "uv", "sync", "--locked", "--no-default-groups", *(f"--group={g}" for g in groups),
        # The session's own Python, not the one .python-version names first.
        f"--python={session.virtualenv.location}",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )  # fmt: skip


def keep_bytecode(session: nox.Session, venv: str | os.PathLike[str]) -> None:
    """Compiled bytecode kept in the venv: without it every cell compiled every module it
    imported, every time (PYTHONDONTWRITEBYTECODE is set on this project's machines)."""
    session.env["PYTHONDONTWRITEBYTECODE"] = None
    session.env["PYTHONPYCACHEPREFIX"] = os.path.join(venv, "pycache")


def outside_any_run(session: nox.Session) -> None:
    """A session that runs nox itself (in clones, in tests) starts runs of its own, also in
    CI, where PACT_MATRIX_RUN names the workflow's run."""
    session.env[run.RUN_VARIABLE] = None


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def lint(session: nox.Session) -> None:
    """Run ruff (lint and format), mypy --strict and the import layers over the whole project."""
    install(session, "lint", *NEWEST)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def tests(session: nox.Session) -> None:
    """Run the test suite, less what needs a venv of its own (the cells, Ruby, other verifiers)."""
    install(session, "test", *NEWEST)
    outside_any_run(session)
    session.run(
        "pytest",
        "--ignore=tests/broker/test_broker_ruby_client.py",
        "--ignore=tests/verifiers",
        *session.posargs,
    )


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def ruby_broker_client(session: nox.Session) -> None:
    """Drive the broker with the Ruby pact-broker client, which needs a venv of its own."""
    install(session, "ruby-broker-client")
    session.run("pytest", "tests/broker/test_broker_ruby_client.py", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def verifiers(session: nox.Session) -> None:
    """Verify this checkout's pact with each other verifier on each framework, healthy and broken.

    pact_verifier_cli and the Ruby pact-provider-verifier come from this session's own venv;
    pact-js is installed by `npm ci` from verifiers/pact-js/package-lock.json.
    """
    install(session, "verifiers", *NEWEST)
    session.run(
        "npm", "ci", "--prefix", "verifiers/pact-js", "--no-audit", "--no-fund", external=True
    )
    # The pacts the consumer tests write now: V4, and V3 for the Ruby verifier, which reads
    # nothing newer.
    tmp = session.create_tmp()
    env = {"PACT_DIR": f"{tmp}/pacts", "PACT_V3_DIR": f"{tmp}/pacts-v3"}
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", "-q", env=env)
    v3 = {"PACT_DIR": env["PACT_V3_DIR"], "PACT_SPECIFICATION": "V3"}
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", "-q", env=v3)
    session.run("pytest", "tests/verifiers", "-p", "no:cacheprovider", *session.posargs, env=env)


@nox.session(python=NEWEST_PYTHON, tags=["checks"])
def reliability(session: nox.Session) -> None:
    """Run the fault, load and hostile-input tests at full strength (clones of HEAD: commit first).

    The broker under many publishers, schemathesis against its OpenAPI, two whole matrices at
    once, Ctrl-C during `nox -s verify`; the test suite runs the same tests lighter.
    """
    install(session, "test", *NEWEST)
    outside_any_run(session)
    session.run(
        "pytest", "tests/reliability", *session.posargs,
        env={
            "RELIABILITY_FULL": "1",
            "RELIABILITY_VERSIONS_PER_PUBLISHER": "30",
            "RELIABILITY_SCHEMATHESIS_EXAMPLES": "60",
        },
    )  # fmt: skip


@nox.session(python=NEWEST_PYTHON, tags=["checks"], default=False)
def fuzz(session: nox.Session) -> None:
    """Fuzz randomly with ten times the examples (the test suite's fuzzing is derandomized).

    Whatever it finds goes into its test as an explicit @example, so that every run checks it.
    """
    install(session, "test", *NEWEST)
    outside_any_run(session)
    session.run(
        "pytest", "tests/broker/test_broker_fuzz.py", "tests/broker/test_broker_http.py",
        "tests/reliability/test_broker_hostile.py", "tests/reliability/test_broker_auth.py",
        "tests/crosscheck", "--hypothesis-show-statistics", *session.posargs,
        env={"HYPOTHESIS_PROFILE": "explore"},
    )  # fmt: skip


@nox.session(python=PYTHONS, tags=["verify"], allow_parallel=True)
@nox.parametrize(
    ["framework", "series"],
    [nox.param(s.framework, s.name, id=s.name, tags=[s.framework]) for s in SERIES],
)
def verify(session: nox.Session, framework: str, series: str) -> None:
    """Verify one framework series on one Python against the consumers' pacts, publishing nothing.

    Skipped on a Python the series' Requires-Python leaves out of the matrix.
    """
    if session.name in matrix.LEFT_OUT:
        session.skip(f"left out of the matrix: {matrix.LEFT_OUT[session.name]}")
    this_run = run.Run.current(session.parallel)
    if run.judges_itself(session.parallel):
        session.notify("verdict", posargs=[run.AFTER_CELLS])
    with this_run.cell(session.name, fail=session.error):
        env = cell_environment(session, this_run, series, "verify",
                               check_settings=this_run.first_cell() == session.name)  # fmt: skip
        session.run(
            "python", "-m", "verification", "cell", framework, *session.posargs, env=env,
            # On Ctrl-C, time for the cell to stop its provider before nox ends it.
            interrupt_timeout=15.0,
        )  # fmt: skip


def cell_environment(
    session: nox.Session, this_run: run.Run, *groups: str, check_settings: bool
) -> dict[str, str]:
    """A cell's venv set up with `groups`, and what the cell is told: its run's pacts, its
    broker (the embedded one, started once per run), where to write its result."""
    install(session, *groups)
    env = this_run.cell_environment(
        session.name, python=f"{session.bin}/python", broker_database=BROKER_DB, env=session.env
    )
    if check_settings:
        # A wrong PACT_* variable fails the run here, in one line: every cell would.
        said = session.run("python", "-m", "verification", "settings",
                           env=env, silent=True, success_codes=[0, 2]) or ""  # fmt: skip
        if said.startswith("error:"):
            this_run.stop(said.strip())
            session.error(said.strip())
        session.log(said.strip())
    if env.get("PACT_MATRIX_EMBEDDED_BROKER"):
        # The run's broker holds this checkout's pacts: the consumer tests write them, once
        # per run, or an earlier run of this same consumer did.
        def consumer_tests(folder: Path) -> None:
            session.run("pytest", "tests/consumer", "-q", "-p", "no:cacheprovider",
                        env={**env, "PACT_DIR": str(folder)})  # fmt: skip

        kept = run.kept_pacts(session.cache_dir / "pacts")
        how = this_run.write_pacts_once(consumer_tests, kept=kept)
        if how == "kept":
            session.log("The consumer's pacts: kept from an earlier run of this same consumer")
    return env


@nox.session(python=NEWEST_PYTHON, default=False)
def watch(session: nox.Session) -> None:
    """Verify one framework (its newest series) now and after every change of the code:
    `nox -s watch -- flask`, until Ctrl-C. Each answer comes from a fresh process that imported
    pact and the framework while the code was being edited; nothing is published or judged.
    """
    if len(session.posargs) != 1 or session.posargs[0] not in FRAMEWORKS:
        session.error(f"name one framework to watch: nox -s watch -- {'|'.join(FRAMEWORKS)}")
    (framework,) = session.posargs
    this_run = run.Run.current(session.parallel)
    run.interrupt_on_sigterm()  # a SIGTERM to nox stops the watch as Ctrl-C does
    try:
        series = matrix.newest(framework).name
        env = cell_environment(session, this_run, series, "verify", "watch", check_settings=True)
        session.run(
            "python", "-m", "verification", "watch", framework, env=env, success_codes=[0, 130],
            # nox passes no signal on: a SIGTERM to nox reaches the watch as nox's own SIGTERM,
            # after interrupt_timeout; then up to terminate_timeout for a cell to stop.
            interrupt_timeout=1.0, terminate_timeout=15.0,
        )  # fmt: skip
    finally:
        this_run.abandon()  # its broker, its pacts' copy: none of it is a run to judge


@nox.session(venv_backend="none", tags=["verdict"])
def verdict(session: nox.Session) -> None:
    """Judge one whole run's cells together and publish one verdict, then ask can-i-deploy.

    After `nox -s verify` it judges that run; alone, the latest whole run (or the one
    PACT_MATRIX_RUN names). A run of part of the matrix publishes nothing. `-- --whole` says
    every cell was attempted (CI's final job): a cell with no result then fails the verdict.
    """
    after_cells = run.AFTER_CELLS in session.posargs
    judged = run.Run.current(session.parallel) if after_cells else chosen_run(session)
    if run.interrupted():  # the cells were stopped: nothing of this run is kept or published
        judged.abandon()
        raise KeyboardInterrupt
    try:
        if judged.why_no_verdict(whole="--whole" in session.posargs):
            # A narrowed or filtered run: the summary below says why, and how to run it whole.
            session.error("no verdict was drawn from this run, and nothing was published")
        python = verdict_python(session)
        env = {}
        if not (os.environ.get("PACT_BROKER_BASE_URL") or os.environ.get("PACT_URL")):
            env = judged.broker_environment(python, BROKER_DB, session.env)
        session.run(
            python, "-m", "verification", "verdict", str(judged.folder), "--whole",
            f"--summary={judged.verdict_file}", env=env, external=True,
        )  # fmt: skip
    finally:
        judged.end()
        print(run.summary(judged), flush=True)


def chosen_run(session: nox.Session) -> run.Run:
    """The latest whole run, or PACT_MATRIX_RUN's; a clear error when there is none."""
    try:
        return run.chosen(session.parallel)
    except run.RunError as error:
        session.error(str(error))


def verdict_python(session: nox.Session) -> str:
    """A venv for the verdict on whichever supported Python this machine has."""
    location = session.cache_dir / "verdict-env"
    session.run_install(
        # The uv that came with nox[uv], beside the Python running nox.
        sys.executable, "-m", "uv", "sync", "--locked", "--no-default-groups", "--group=verify",
        f"--python={PYPROJECT['project']['requires-python']}", "--quiet",
        env={"UV_PROJECT_ENVIRONMENT": str(location)}, external=True,
    )  # fmt: skip
    keep_bytecode(session, location)
    return str(location / "bin" / "python")


@nox.session(python=NEWEST_PYTHON, default=False)
def webhook(session: nox.Session) -> None:
    """Have the broker start a GitHub repository's workflow for each pact needing verification.

    `nox -s webhook -- OWNER/REPO`, with PACT_BROKER_* and GITHUB_TOKEN in the environment.
    """
    install(session, "verify")
    session.run("python", "-m", "verification", "webhook", *session.posargs)


@nox.session(python=PYTHONS, tags=["checks"])
@nox.parametrize("releases", [nox.param(r, id=r) for r in ("oldest", "newest")])
def crosscheck(session: nox.Session, releases: str) -> None:
    """Send every framework generated requests they must answer alike, and compare the cells.

    On each Python, once with every framework's oldest series and once with its newest.
    CROSSCHECK_EXAMPLES sets the examples per test (default 1000); the cells compared are the
    latest whole run's (or PACT_MATRIX_RUN's).
    """
    python = str(session.python)
    chosen = [getattr(matrix, releases)(framework, python).name for framework in FRAMEWORKS]
    if releases == "oldest" and chosen == [matrix.newest(f, python).name for f in FRAMEWORKS]:
        session.skip(f"on Python {python} each framework's oldest series is its newest")
    install(session, "test", *chosen)
    session.run(
        "pytest", "tests/crosscheck", "--hypothesis-show-statistics", *session.posargs,
        env={"CROSSCHECK_EXAMPLES": os.environ.get("CROSSCHECK_EXAMPLES", "1000")},
    )  # fmt: skip
    try:
        compared = run.chosen(session.parallel)
    except run.RunError as error:
        session.log(f"No cells to compare: {error}")
        return
    if releases == "newest":  # once per Python
        session.run("python", "-m", "verification", "compare", str(compared.folder))


# No python=: it only reads and writes files, so CI's final job needs no interpreter of the matrix.
@nox.session(tags=["report"])
def report(session: nox.Session) -> None:
    """Write the latest whole run as Markdown and HTML (results/report.md, .html) and compare it."""
    install(session, "report")
    reported = chosen_run(session)
    # CI's cell jobs also leave nox's own record of their sessions (which knows a cell that
    # never started); a local run's folder has the noxfile's record of each cell.
    nox_reports = (
        [] if run.judges_itself(session.parallel) else sorted(Path("results", "nox").glob("*.json"))
    )
    session.run(
        "python", "-m", "verification", "report", f"--results={reported.folder}",
        "--markdown=results/report.md", "--html=results/report.html",
        *(["--nox-report", *map(str, nox_reports)] if nox_reports else []), *session.posargs,
    )  # fmt: skip
    session.run("python", "-m", "verification", "compare", str(reported.folder))


@nox.session(name="canary", venv_backend="none", default=False)
def canary_run(session: nox.Session) -> None:
    """Verify the whole matrix on the newest release of every framework; publish nothing.

    A copy of this checkout with the frameworks' bounds lifted, each cell installing what its
    Python can run, not uv.lock; the report (results/canary.md) names each package newer
    than the lock and each interaction that failed.
    """
    folder = session.cache_dir / "canary"
    copy = canary.prepare(Path.cwd(), folder)
    # Resolved fresh, not from this checkout's lock; the cells then install the newest too.
    session.run(
        sys.executable, "-m", "uv", "lock", "--upgrade", f"--directory={copy}", "--quiet",
        external=True,
    )  # fmt: skip
    with session.chdir(copy):
        session.run(
            sys.executable, "-m", "nox", "--session", "verify",
            env=canary.environment(folder), external=True, success_codes=[0, 1],
        )  # fmt: skip
    if not canary.write_report(Path.cwd(), copy, Path("results", "canary.md")):
        session.error("the newest releases fail the matrix: see results/canary.md")


@nox.session(python=NEWEST_PYTHON, tags=["pacts"], default=False)
def pacts(session: nox.Session) -> None:
    """Run the consumer contract tests, which write the consumer's pacts to pacts/."""
    install(session, "verify")
    session.run("pytest", "tests/consumer", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["pacts"], default=False)
def publish(session: nox.Session) -> None:
    """Publish pacts/ to the broker at PACT_BROKER_BASE_URL with the real `pact broker publish`."""
    install(session, "verify")
    session.run("python", "-m", "verification", "publish", *session.posargs)


@nox.session(python=NEWEST_PYTHON, default=False)
def broker(session: nox.Session) -> None:
    """Serve the embedded Pact Broker in the foreground on the file `nox -s verify` keeps.

    For example: nox -s broker -- --port 9292 --log-level info
    """
    install(session, "broker")
    database = [] if "--db" in session.posargs else ["--db", str(BROKER_DB)]
    session.run("python", "-m", "broker", *database, *session.posargs)


@nox.session(python=NEWEST_PYTHON, default=False)
def provider(session: nox.Session) -> None:
    """Serve one framework's provider with its state endpoint until Ctrl-C.

    For example: nox -s provider -- flask --port 8000
    """
    framework = next((arg for arg in session.posargs if arg in FRAMEWORKS), None)
    if framework is None:
        session.error(f"name the framework to serve: nox -s provider -- {'|'.join(FRAMEWORKS)}")
    install(session, matrix.newest(framework).name)
    session.run("python", "-m", "providers", *session.posargs, interrupt_timeout=10.0)


@nox.session(python=NEWEST_PYTHON, tags=["bench"], default=False)
def bench(session: nox.Session) -> None:
    """Measure everything BENCHMARKS.md lists against its limit, and rewrite it."""
    install(session, "bench", *NEWEST)
    outside_any_run(session)
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["bench"], default=False)
def bench_broker(session: nox.Session) -> None:
    """Measure the broker's publish and for-verification latency at 10 to 10,000 versions."""
    install(session, "broker", "consumer")
    session.run("python", "-m", "broker.bench", *session.posargs)
