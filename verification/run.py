"""One run of the matrix: its folder, its embedded broker, its cells' records and its end.

A run is one `nox` invocation, or in CI one workflow run (`PACT_MATRIX_RUN` names it for
every job). Everything a run writes is in its own folder, `results/runs/<id>/`: what its
cells verified (`<cell>.json`, `<cell>.junit.xml`, the files `python -m verification` reads)
and, under `run/`, what the noxfile keeps about it: the run's owner, one record per cell that
started, the pacts the consumer tests wrote for its cells, the embedded broker's address and
the verdict. Two runs in one checkout have two folders and two brokers, and never read each
other's files; readers (`verdict`, `crosscheck`, `report`) read one run, the latest whole one
unless told which.

A run is *whole* when every cell of the matrix started in it. Only a whole run's verdict is
published: a run the user narrowed (`-p 3.13`, `-t flask`, one session) is reported, never
judged.

Standard library only: nox's own Python imports this module.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from matrix import ALL_CELLS, LEFT_OUT, PROJECT_ROOT

RUN_VARIABLE = "PACT_MATRIX_RUN"
RUNS = PROJECT_ROOT / "results" / "runs"
# Where nox keeps this checkout's virtualenvs (another nox beside it: a folder of its own).
ENVDIR = PROJECT_ROOT / ".nox"
# What the cells pass the `verdict` session they queue: judge this run, the one they belong to
# (alone, `nox -s verdict` judges the latest whole run).
AFTER_CELLS = "--after-cells"
# Enough history to compare with; older runs are removed when a new one starts.
KEPT_RUNS = 20
# Pacts kept for the consumers last verified: an edit and its undo both stay warm.
KEPT_PACTS = 10
# What the consumer tests' pacts depend on besides PACT_SPECIFICATION: their code, the
# consumer's, the pacticipants' names (matrix), and the locked pact-python. The consumer tests
# import nothing else of the project's (tests/verification/test_run.py checks it).
CONSUMER_INPUTS = (
    "consumer", "tests/consumer", "tests/conftest.py", "matrix", "pyproject.toml", "uv.lock",
)  # fmt: skip


class RunError(RuntimeError):
    """The run cannot go on, for a reason the message gives the user."""


def owner_pid(parallel: bool) -> int:
    """The nox that owns this process's run: this one, or, in a `nox --parallel` worker (a nox
    its parent started to run one session: `session.parallel`), that parent."""
    return os.getppid() if parallel else os.getpid()


def run_id(owner: int, environ: Mapping[str, str] = os.environ) -> str:
    """The id of the run `owner` (a nox's pid) runs: the one PACT_MATRIX_RUN names (CI names
    one run for all its jobs), else one made of when that nox started and its pid, which every
    process of the run derives alike and no other nox shares."""
    return environ.get(RUN_VARIABLE) or f"{_started_at(owner):%Y%m%dT%H%M%S}-{owner}"


def judges_itself(parallel: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this nox judges its run after its cells: not a `--parallel` worker (nox cannot
    queue a session from one), and not a CI job, one cell of the workflow's run, which the
    workflow's final job judges."""
    return not parallel and not environ.get(RUN_VARIABLE)


def _started_at(pid: int) -> datetime:
    """When process `pid` started, in UTC, to the second."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux: ticks after boot, and the boot time
        ticks = int(stat.read_text("utf-8").rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text("utf-8").splitlines()
            if line.startswith("btime ")
        )
        return datetime.fromtimestamp(boot + ticks // os.sysconf("SC_CLK_TCK"), UTC)
    started = subprocess.run(  # macOS and the BSDs
        ["ps", "-o", "lstart=", "-p", str(pid)],
        capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"},
    ).stdout  # fmt: skip
    return datetime.strptime(" ".join(started.split()), "%a %b %d %H:%M:%S %Y").astimezone(UTC)


class Virtualenvs(os.PathLike[str]):
    """The folder this nox keeps its virtualenvs in (`nox.options.envdir`): `default`, unless
    another nox in this checkout is using it.

    Two noxes creating or syncing one virtualenv at once break each other's (a cell failed on
    a module the other was installing). The first nox holds `default` until it ends; one started
    meanwhile says so and makes its own, beside it, removed when it ends (or, if it was killed,
    by the next nox here), so that two runs in one checkout never meet.

    Chosen when nox first reads the option (nox accepts a path-like envdir), not when the
    noxfile is imported; nox hands the folder chosen to its `--parallel` workers as `--envdir`.
    """

    def __init__(self, default: str | os.PathLike[str]) -> None:
        self.default = Path(default).resolve()
        self._chosen: Path | None = None
        self._lock: int | None = None  # held until this process ends

    def __fspath__(self) -> str:
        if self._chosen is None:
            self._chosen = self._choose()
        return str(self._chosen)

    def _choose(self) -> Path:
        default = self.default
        default.mkdir(parents=True, exist_ok=True)
        lock = os.open(default / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        for stale in sorted((default / "alongside").glob("*")):
            if stale.name.isdigit() and not _alive(int(stale.name)):
                shutil.rmtree(stale, ignore_errors=True)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(lock, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(lock)
            own = default / "alongside" / str(os.getpid())
            atexit.register(shutil.rmtree, own, ignore_errors=True)
            print(
                f"nox > another nox (pid {holder}) is using {default} in this checkout: this "
                f"one keeps its virtualenvs in {own}, removed when it ends",
                file=sys.stderr,
                flush=True,
            )
            return own
        os.ftruncate(lock, 0)
        os.pwrite(lock, str(os.getpid()).encode(), 0)
        self._lock = lock
        return default


@dataclass(frozen=True)
class CellRecord:
    """What the noxfile saw of one cell: it started, and how it ended."""

    cell: str
    # "running" until it ends; then "passed", "failed" or "interrupted".
    outcome: str = "running"
    interactions: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Run:
    id: str
    folder: Path
    # The nox that runs it, when this process is part of it (`Run.current`); else unknown.
    owner_pid: int | None = field(default=None, compare=False)

    @classmethod
    def named(cls, run_id: str, runs: Path = RUNS) -> Run:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise RunError(f"{RUN_VARIABLE}={run_id!r} is not a run id")
        return cls(run_id, runs / run_id)

    @classmethod
    def current(
        cls, parallel: bool, environ: Mapping[str, str] = os.environ, runs: Path = RUNS
    ) -> Run:
        """The run this process belongs to (`parallel`: it is a `nox --parallel` worker)."""
        owner = owner_pid(parallel)
        return replace(cls.named(run_id(owner, environ), runs), owner_pid=owner)

    # Where things are.
    @property
    def state(self) -> Path:
        return self.folder / "run"

    @property
    def verdict_file(self) -> Path:
        return self.state / "verdict.json"

    @property
    def pact_dir(self) -> Path:
        """This checkout's pacts, as its consumer tests wrote them for the run."""
        return self.state / "pacts"

    # The cells.
    def start_cell(self, cell: str) -> None:
        """Record that `cell` started in this run (the first cell also names the owner)."""
        self.state.mkdir(parents=True, exist_ok=True)
        owner = self.state / "owner.json"
        # Under `nox --parallel` cells start at once: one of them is the first.
        with _locked(self.state / "owner.lock"):
            if not owner.exists():
                _remove_old_runs(self.folder.parent, keep=self.folder)
                _write_json(
                    owner,
                    {
                        "pid": self.owner_pid or os.getpid(),
                        "started": datetime.now(UTC).isoformat(timespec="seconds"),
                        "first_cell": cell,
                    },
                )
        self.record(CellRecord(cell))

    def record(self, record: CellRecord) -> None:
        _write_json(self.state / "cells" / f"{record.cell}.json", asdict(record))

    def records(self) -> dict[str, CellRecord]:
        found = {}
        for path in sorted((self.state / "cells").glob("*.json")):
            record = CellRecord(**json.loads(path.read_text("utf-8")))
            found[record.cell] = record
        return found

    def missing(self, cells: Sequence[str] = ALL_CELLS) -> list[str]:
        """The cells of the matrix that did not start in this run."""
        started = self.records()
        return [cell for cell in cells if cell not in started]

    def is_whole(self, cells: Sequence[str] = ALL_CELLS) -> bool:
        return not self.missing(cells)

    def _owner_record(self) -> dict[str, Any]:
        """What the run's first cell recorded: the owner's pid, the start, the first cell."""
        path = self.state / "owner.json"
        record: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
        return record

    def owner(self) -> int | None:
        pid = self._owner_record().get("pid")
        return None if pid is None else int(pid)

    def started(self) -> str | None:
        """When the run's first cell started, in UTC (ISO 8601)."""
        started: str | None = self._owner_record().get("started")
        return started

    def in_progress(self) -> bool:
        """Whether the nox that owns the run is still going (and the run has not ended)."""
        pid = self.owner()
        return pid is not None and not (self.state / "ended").exists() and _alive(pid)

    @contextlib.contextmanager
    def cell(self, cell: str, fail: Callable[[str], NoReturn]) -> Iterator[None]:
        """Run one cell of this run: record that it started and how it ended.

        An interrupted cell (Ctrl-C, or SIGTERM, which nox's process takes as Ctrl-C from
        here on) abandons the run: nothing of it is kept, and its broker stops.
        """
        interrupt_on_sigterm()
        self.start_cell(cell)
        stopped = self._stopped()
        started = time.perf_counter()
        outcome = "failed"
        try:
            if interrupted():
                raise KeyboardInterrupt
            if stopped:
                fail(stopped)
            yield
            if interrupted():
                raise KeyboardInterrupt
            outcome = "passed"
        except KeyboardInterrupt:
            self.abandon()
            raise
        finally:
            if self.state.is_dir():
                result = self._result(cell)
                self.record(
                    CellRecord(
                        cell,
                        outcome,
                        len(result["interactions"]) if result else None,
                        round(time.perf_counter() - started, 1),
                    )
                )
                if outcome == "failed" and result and result.get("stops_run"):
                    self.stop(f"{cell}: {result['error']}")

    def write_pacts_once(
        self, write: Callable[[Path], object], kept: Path | None = None
    ) -> str | None:
        """The first cell to get here has `write(folder)` the run's pacts, or copies them from
        `kept`, where an earlier run of the same tree left them; under `--parallel` the others
        wait for it. Every cell then verifies the same pacts.

        Returns what the first cell did ("written" or "kept"); None for the others.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        done = self.state / "pacts.done"
        with _locked(self.state / "pacts.lock"):
            if done.exists():
                return None
            shutil.rmtree(self.pact_dir, ignore_errors=True)
            if kept is not None and kept.is_dir():
                shutil.copytree(kept, self.pact_dir)
                how = "kept"
            else:
                write(self.pact_dir)
                if kept is not None:
                    _keep(self.pact_dir, kept)
                how = "written"
            done.touch()
            return how

    def first_cell(self) -> str | None:
        """The cell that started this run."""
        first: str | None = self._owner_record().get("first_cell")
        return first

    def stop(self, failure: str) -> None:
        """A failure every cell would meet: the cells not started yet fail at once, naming it."""
        (self.state / "stop").write_text(
            f"not run: a failure every cell would meet: {failure}", encoding="utf-8"
        )

    def cell_environment(
        self, cell: str, *, python: str, broker_database: Path, env: Mapping[str, str | None]
    ) -> dict[str, str]:
        """What a cell is told: where to write, and which broker to read (`env`: the
        session's environment, in which the broker runs)."""
        environment = {
            "PACT_DIR": str(self.pact_dir),
            "PACT_RESULTS_DIR": str(self.folder),
            RUN_VARIABLE: self.id,  # recorded in the cell's results
        }
        if not (os.environ.get("PACT_BROKER_BASE_URL") or os.environ.get("PACT_URL")):
            environment |= self.broker_environment(python, broker_database, env)
        return environment

    def broker_environment(
        self, python: str, database: Path, env: Mapping[str, str | None]
    ) -> dict[str, str]:
        """The environment that names this run's embedded broker to a cell or the verdict."""
        return {
            "PACT_BROKER_BASE_URL": self.embedded_broker(python, database, env),
            "PACT_MATRIX_EMBEDDED_BROKER": "true",
        }

    def why_no_verdict(
        self, *, whole: bool = False, cells: Sequence[str] = ALL_CELLS
    ) -> str | None:
        """Why no verdict may be drawn from this run, or None when one may.

        `whole`: the caller knows every cell was attempted (CI ran each as a job), so a cell
        without a record failed rather than was left out.
        """
        records = self.records()
        running = sorted(cell for cell, record in records.items() if record.outcome == "running")
        # (CI's final job, `whole`, runs after every cell job has ended.)
        if running and not whole and self.in_progress():
            # Under `nox --parallel --allow-parallel` nox may start the verdict beside the last
            # cells: judged now, a cell still verifying would count as one with no result.
            return (
                f"{', '.join(running)} still running: the verdict is drawn once every cell has "
                "ended (`--allow-parallel` lets nox start it beside them), and nothing was "
                "published"
            )
        filtered = sorted(cell for cell in records if (self._result(cell) or {}).get("filtered"))
        if filtered:
            return (
                f"{', '.join(filtered)} verified only the interactions a filter chose "
                "(PACT_DESCRIPTION, PACT_PROVIDER_STATE, PACT_PROVIDER_NO_STATE): no verdict "
                "is drawn from a filtered run, and nothing was published"
            )
        missing = self.missing(cells)
        if missing and not whole:
            return (
                f"run {self.id} is part of the matrix ({len(cells) - len(missing)} of "
                f"{len(cells)} cells): no verdict is drawn from it, and nothing was published. "
                f"Not run: {', '.join(missing)}{_missing_pythons(missing)}. "
                "`nox -s verify` runs every cell."
            )
        return None

    def _result(self, cell: str) -> dict[str, Any] | None:
        path = self.folder / f"{cell}.json"
        if not path.exists():
            return None
        result: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return result

    def _stopped(self) -> str | None:
        path = self.state / "stop"
        return path.read_text("utf-8") if path.exists() else None

    def end(self) -> None:
        # Every request of the run has been answered: the broker exits in a moment, unwatched.
        self.stop_broker(wait=False)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "ended").touch()

    def abandon(self) -> None:
        """An interrupted run: stop its broker and remove everything it wrote."""
        self.stop_broker()
        shutil.rmtree(self.folder, ignore_errors=True)

    # The embedded broker: one per run, started by the first cell that needs it.
    def embedded_broker(
        self, python: str, database: Path, env: Mapping[str, str | None] | None = None
    ) -> str:
        """The URL of this run's embedded broker, started now if it is not running yet.

        It serves `database` (kept across runs) from `python` with `env` over this process's
        environment (a None value unsets a variable), in a process group of its own
        (Ctrl-C reaches nox, which stops it), and stops by itself when the run's owner ends.
        Its socket is bound here and handed over: the address is known at once, and the first
        request waits in the socket's queue while the broker starts, instead of the cell.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        url_file = self.state / "broker.url"
        with _locked(self.state / "broker.lock"):
            if url_file.exists():
                self._check_broker()
                return url_file.read_text("utf-8")
            # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say TCP.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(1024)
                owner = str(self.owner() or os.getpid())
                command = [python, "-m", "broker", "--fd", str(listener.fileno()),
                           "--db", str(database), "--exit-with", owner]  # fmt: skip
                with open(self.state / "broker.log", "ab") as log:
                    process = subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=log,
                        pass_fds=[listener.fileno()],
                        env=_overlaid(os.environ, env or {}),
                        start_new_session=True,
                        cwd=PROJECT_ROOT,
                    )
                url = "http://{}:{}".format(*listener.getsockname())
            (self.state / "broker.pid").write_text(str(process.pid), encoding="utf-8")
            url_file.write_text(url, encoding="utf-8")
            return url

    def _check_broker(self) -> None:
        """A broker that died (the first cell then met a refused connection) says why."""
        pid_file = self.state / "broker.pid"
        if pid_file.exists() and not _alive(int(pid_file.read_text("utf-8"))):
            log = (self.state / "broker.log").read_text("utf-8", errors="replace")
            raise RunError(f"the run's embedded broker ended:\n{log[-3000:]}")

    def stop_broker(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        pid_file = self.state / "broker.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text("utf-8"))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while wait and _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if wait and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it, if this process started it
        pid_file.unlink(missing_ok=True)
        (self.state / "broker.url").unlink(missing_ok=True)


def runs(folder: Path = RUNS) -> list[Run]:
    """Every run in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = [Run(path.name, path) for path in folder.iterdir() if (path / "run").is_dir()]
    return sorted(found, key=lambda run: (run.state.stat().st_mtime, run.id))


def latest_whole(folder: Path = RUNS, cells: Sequence[str] = ALL_CELLS) -> Run | None:
    """The newest run that started every cell and is not still going."""
    for run in reversed(runs(folder)):
        if run.is_whole(cells) and not run.in_progress():
            return run
    return None


def chosen(
    parallel: bool,
    environ: Mapping[str, str] = os.environ,
    folder: Path = RUNS,
    cells: Sequence[str] = ALL_CELLS,
) -> Run:
    """The run a reader of results reads: this nox's own (or PACT_MATRIX_RUN's) if its cells
    ran, else the latest whole run."""
    own = Run.current(parallel, environ, folder)
    if own.state.is_dir():
        return own
    latest = latest_whole(folder, cells)
    if latest is None:
        every = runs(folder)
        detail = ""
        if every:
            newest = every[-1]
            detail = (
                f"; the newest, {newest.id}, ran {len(cells) - len(newest.missing(cells))} of "
                f"{len(cells)} cells (missing: {', '.join(newest.missing(cells))})"
            )
        raise RunError(
            f"no whole run of the matrix in {folder}{detail}: `nox -s verify` runs every cell"
        )
    return latest


def kept_pacts(folder: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the pacts the consumer tests write from the tree as it is now are kept, in
    `folder`: named by a digest of everything they depend on, so an edit of the consumer
    makes a new name and an edit of a provider (the inner loop) keeps the pacts."""
    digest = hashlib.sha256(f"{environ.get('PACT_SPECIFICATION')}\0".encode())
    for path in sorted(_consumer_inputs()):
        digest.update(f"{path.relative_to(PROJECT_ROOT)}\0".encode() + path.read_bytes())
    return folder / digest.hexdigest()[:16]


def _consumer_inputs() -> Iterator[Path]:
    for name in CONSUMER_INPUTS:
        path = PROJECT_ROOT / name
        yield from path.rglob("*.py") if path.is_dir() else [path]


def _keep(pacts: Path, kept: Path, keep: int = KEPT_PACTS) -> None:
    """Copy `pacts` to `kept` whole or not at all, and forget all but the newest `keep`."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=kept.parent, prefix=".partial-"))
    shutil.copytree(pacts, partial, dirs_exist_ok=True)
    try:
        partial.rename(kept)
    except OSError:  # another run of the same tree kept them first
        shutil.rmtree(partial, ignore_errors=True)
    trees = sorted(
        (path for path in kept.parent.iterdir() if not path.name.startswith(".")),
        key=lambda path: path.stat().st_mtime,
    )
    for old in trees[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _overlaid(base: Mapping[str, str], env: Mapping[str, str | None]) -> dict[str, str]:
    """`base` with `env` over it, where None unsets a variable (as in nox's `session.env`)."""
    overlaid = dict(base)
    for name, value in env.items():
        if value is None:
            overlaid.pop(name, None)
        else:
            overlaid[name] = value
    return overlaid


def _remove_old_runs(folder: Path, keep: Path) -> None:
    for run in runs(folder)[:-KEPT_RUNS]:
        if run.folder != keep and not run.in_progress():
            shutil.rmtree(run.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (ended, not yet reaped by its parent) counts as ended.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text("utf-8").rsplit(")", 1)[1].split()[0]
        return status != "Z"
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process of this run at a time (cells under `nox --parallel` are processes)."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_json(path: Path, data: object) -> None:
    """Write `path` whole or not at all, even while another process writes it too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as partial:
        partial.write(json.dumps(data))
    Path(partial.name).replace(path)


@dataclass(frozen=True)
class VerdictSummary:
    """What `python -m verification verdict` tells the noxfile about the verdict it drew."""

    success: bool
    # One line per pact: "UserConsumer pact 7e33f729: verified, 9 of 9 cells passed".
    pacts: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    published: bool = False
    # Why the verdict was not published (publishing off, refused, unreachable), or None.
    not_published: str | None = None
    can_i_deploy: bool | None = None
    # PACT_URL mode: the one pact verified, and whose it is.
    pact_url: str | None = None

    def write(self, path: Path) -> None:
        _write_json(path, asdict(self))

    @classmethod
    def read(cls, path: Path) -> VerdictSummary:
        data = json.loads(path.read_text("utf-8"))
        data["pacts"] = tuple(data["pacts"])
        data["missing"] = tuple(data["missing"])
        return cls(**data)

    def lines(self) -> list[str]:
        head = "verified" if self.success else "NOT verified"
        if self.published:
            lines = [f"Verdict: {head}, and published."]
        else:
            why = (self.not_published or "").rstrip(".")  # a reason may end a sentence itself
            lines = [f"Verdict: {head}, but NOT published: {why}."]
        lines += [f"- {line}" for line in self.pacts]
        if self.missing:
            lines.append(f"- cells with no result: {', '.join(self.missing)}")
        if self.can_i_deploy is not None:
            lines.append(f"`pact broker can-i-deploy` says {'yes' if self.can_i_deploy else 'no'}.")
        return lines


def summary(run: Run, cells: Sequence[str] = ALL_CELLS) -> str:
    """The table of what was verified where in `run`, and what became of its verdict."""
    records = run.records()
    lines = [
        "",
        "| cell | result | interactions verified | seconds |",
        "|---|---|---:|---:|",
    ]
    for cell in [*cells, *sorted(set(records) - set(cells))]:
        record = records.get(cell)
        if record is None:
            continue
        interactions = "-" if record.interactions is None else str(record.interactions)
        seconds = "-" if record.seconds is None else f"{record.seconds:.1f}"
        lines.append(f"| {cell} | {record.outcome} | {interactions} | {seconds} |")
    for cell, why in LEFT_OUT.items():
        lines.append(f"| {cell} | left out: {why} | - | - |")
    lines.append("")
    if run.verdict_file.exists():
        lines += VerdictSummary.read(run.verdict_file).lines()
    else:
        lines.append(run.why_no_verdict(cells=cells) or "No verdict was drawn.")
    return "\n".join(lines)


def _missing_pythons(cells: Sequence[str]) -> str:
    """How to install the Pythons of `cells` that this machine lacks, if any."""
    wanted = sorted({cell.split("-", 1)[1].split("(", 1)[0] for cell in cells})
    lacking = [python for python in wanted if python not in _pythons_that_run(tuple(wanted))]
    if not lacking:
        return ""
    names = " ".join(lacking)
    return (
        f" (not installed here: Python {', '.join(lacking)}; install with `pyenv install "
        f"{names}`, which this checkout's .python-version then finds, or `uv python install "
        f"{names}`)"
    )


@functools.cache
def _pythons_that_run(versions: tuple[str, ...], envdir: Path = ENVDIR) -> frozenset[str]:
    """The `versions` whose `pythonX.Y` runs here: those a virtualenv of this checkout was made
    with, while its interpreter is there; the others are asked, at once (a pyenv shim takes
    ~0.15 s: asking each made a partial run's summary, one cell's, 0.25 s slower)."""
    found = set()
    for config in envdir.glob("*/pyvenv.cfg"):
        settings = dict(line.partition(" = ")[::2] for line in config.read_text().splitlines())
        version = ".".join(settings.get("version_info", "").split(".")[:2])
        if version in versions and Path(settings.get("home", ""), f"python{version}").exists():
            found.add(version)
    started = {}
    for version in set(versions) - found:
        with contextlib.suppress(OSError):
            started[version] = subprocess.Popen(
                [f"python{version}", "-c", ""],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    ran = {version for version, python in started.items() if python.wait() == 0}
    return frozenset(found | ran)


def interrupt_on_sigterm() -> None:
    """SIGTERM (a CI cancellation, `timeout`) and SIGINT stop the run as Ctrl-C does: its
    cells and broker are stopped and its folder removed, instead of nox dying with its
    children left. SIGINT too, since a nox started in a shell's background job inherits it
    ignored, and a `kill -INT` meant for it would go unheard."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


_interrupted = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    # Remembered, not only raised: nox forgets an interrupt when the command it interrupted
    # (uv, a cell's pytest) exits 0 anyway, and the run would go on to publish.
    _interrupted.set()
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Whether this process was told to stop (SIGINT, SIGTERM) since its first cell."""
    return _interrupted.is_set()
