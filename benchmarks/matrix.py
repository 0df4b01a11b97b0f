"""Item 4: the whole `nox -s verify` matrix, cold and warm, and where its warm time goes.

nox runs in a subprocess, in a scratch copy of the project with its own venv folder
(`--envdir`), so the user's `.nox/` and `results/` are never touched. "Cold" is the first
run on an empty venv folder (uv's and pip's download caches stay as they are: this measures
building venvs, not the network); "warm" is each later run, which reuses the venvs.

The scratch copy is no git checkout, so the versions and branches a cell would read from git
are given in the environment.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from matrix import PROJECT_ROOT

ENVIRONMENT = {
    "PACT_PROVIDER_VERSION": "bench",
    "PACT_PROVIDER_BRANCH": "main",
    "PACT_CONSUMER_VERSION": "bench",
    "PACT_CONSUMER_BRANCH": "main",
    # As on this project's machines and CI, whatever the bench session's own environment:
    # a tree whose noxfile does not override it then pays for compiling, as it did there.
    "PYTHONDONTWRITEBYTECODE": "1",
}
# The bench session's own settings, which must not leak into the cells' sessions.
LEFT_OUT = ("VIRTUAL_ENV", "NOX_CURRENT_SESSION", "PYTHONPYCACHEPREFIX", "PACT_MATRIX_RUN")


# nox's result_code of a skipped session.
SKIPPED = 2
# A line nox logs with --add-timestamp: "nox > [2026-12-06 05:20:01,123] Running session ...".
NOX_LINE = re.compile(r"^nox > \[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] (.*)$")
# The code the floor imports: what any cell must load to verify its framework.
FLOOR_IMPORTS = "import pact, providers.{framework}"
# How long the watch may take to start, or to answer an edit, before the bench gives up on it.
WATCH_TIMEOUT = 120.0
# The time between two saves in the watch's measurement.
EDITING_SECONDS = 2.0


@dataclass(frozen=True)
class CellTimes:
    """Where one cell's nox session went, from the timestamps nox logged (seconds)."""

    session: float  # from "Running session" to its end
    nox: float  # nox's own part: reusing the venv, before the first command
    uv: float  # `uv sync` checking the venv against uv.lock
    first: float  # the first cell only: the settings check, the consumer's pacts
    cell: float  # `python -m verification cell`: interpreter, imports, verification, exit
    verification: float  # `verification.cell.run`, as the cell timed it


@dataclass(frozen=True)
class MatrixRun:
    wall: float  # the whole nox run
    cells: dict[str, CellTimes]
    verdict: float  # the verdict session: judging, publishing, asking can-i-deploy
    nox_start: float  # from starting nox to its first session
    passed: bool

    @property
    def outside_share(self) -> float:
        """The share of the wall time spent outside the verifications themselves."""
        return 1 - sum(cell.verification for cell in self.cells.values()) / self.wall


def copy_worktree(destination: Path) -> Path:
    """The project's files as they are now, committed or not (ignored files left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def export_revision(revision: str, destination: Path) -> Path:
    """The project's files at a git revision (for the "before" rows)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def run(
    project: Path, envdir: Path, backend: str, *, jobs: int = 1, sessions: tuple[str, ...] = ()
) -> MatrixRun:
    """`nox -s verify` (or `sessions`) in `project` with venvs in `envdir`, made by `backend`."""
    shutil.rmtree(project / "results", ignore_errors=True)
    command = [
        sys.executable, "-m", "nox", "--sessions", *(sessions or ["verify"]),
        # As users run the matrix: under --parallel nox cannot queue the verdict, so it is named.
        *(["verdict"] if jobs > 1 and not sessions else []),
        "--envdir", str(envdir), "--force-venv-backend", backend, "--add-timestamp",
        *(["--parallel", str(jobs)] if jobs > 1 else []),
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k not in LEFT_OUT} | ENVIRONMENT
    started_at = datetime.now()  # nox stamps its lines with local time
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    verification = {}
    # The run's folder (results/runs/<run>/): this nox's only run, results/ being removed first.
    for result_file in sorted((project / "results").glob("runs/*/verify-*.json")):
        verification[result_file.stem] = float(
            json.loads(result_file.read_text("utf-8"))["seconds"]
        )
    stamped = [
        (datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), match[2])
        for line in (completed.stdout + completed.stderr).splitlines()
        if (match := NOX_LINE.match(line))
    ]
    cells = {cell: _cell_times(stamped, cell, seconds) for cell, seconds in verification.items()}
    verdict = _session_seconds(stamped, "verdict")
    nox_start = (stamped[0][0] - started_at).total_seconds() if stamped else float("nan")
    passed = completed.returncode in (0, 1) if sessions else completed.returncode == 0
    if not passed or not cells:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
    return MatrixRun(wall, cells, verdict, nox_start, passed and bool(cells))


def _session_lines(stamped: list[tuple[datetime, str]], session: str) -> list[tuple[datetime, str]]:
    """The timestamped lines of one session, its start to its end."""
    for index, (_, text) in enumerate(stamped):
        if text == f"Running session {session}":
            for end, (_, later) in enumerate(stamped[index:], start=index):
                if later.startswith(f"Session {session} "):
                    return stamped[index : end + 1]
    return []


def _session_seconds(stamped: list[tuple[datetime, str]], session: str) -> float:
    lines = _session_lines(stamped, session)
    return (lines[-1][0] - lines[0][0]).total_seconds() if lines else float("nan")


def _cell_times(stamped: list[tuple[datetime, str]], cell: str, verification: float) -> CellTimes:
    lines = _session_lines(stamped, cell)
    uv = next((i for i, (_, text) in enumerate(lines) if "uv sync " in text), None)
    cell_at = next((at for at, text in lines if " -m verification cell " in text), None)
    if uv is None or cell_at is None:  # a tree from before the cell command
        nan = float("nan")
        session = (lines[-1][0] - lines[0][0]).total_seconds() if lines else nan
        return CellTimes(session, nan, nan, nan, nan, verification)
    after_uv = lines[uv + 1][0]
    return CellTimes(
        session=(lines[-1][0] - lines[0][0]).total_seconds(),
        nox=(lines[uv][0] - lines[0][0]).total_seconds(),
        uv=(after_uv - lines[uv][0]).total_seconds(),
        first=(cell_at - after_uv).total_seconds(),
        cell=(lines[-1][0] - cell_at).total_seconds(),
        verification=verification,
    )


def floor(envdir: Path, cells: list[str], repeats: int = 3) -> dict[str, float]:
    """Each cell's floor: its interpreter importing pact and its framework's provider once,
    in the cell's own venv, with the bytecode the cell keeps there (median of `repeats`)."""
    return {
        cell: import_floor(
            envdir / re.sub(r"[^a-z0-9]+", "-", cell.lower()).strip("-"),
            cell.split("(")[1].split("-")[0],
            repeats,
        )
        for cell in cells
    }


def import_floor(venv: Path, framework: str, repeats: int = 3) -> float:
    """A venv's interpreter importing pact and `framework`'s provider once, with the bytecode
    the venv keeps (median of `repeats`)."""
    environment = {k: v for k, v in os.environ.items() if k not in LEFT_OUT}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(venv / "pycache")
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", FLOOR_IMPORTS.format(framework=framework)],
            cwd=PROJECT_ROOT, env=environment, check=True,
        )  # fmt: skip
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[len(seconds) // 2]


@dataclass(frozen=True)
class WatchRun:
    answers: list[float]  # from each edit to the watch's answer
    passed: bool  # every answer was a cell that verified its interactions


def watch(project: Path, envdir: Path, framework: str, edits: int) -> WatchRun:
    """`nox -s watch -- FRAMEWORK` in `project`: the seconds from each edit of the provider to
    the line that ends the watch's answer, as the developer waits for it."""
    command = [
        sys.executable, "-m", "nox", "--sessions", "watch", "--envdir", str(envdir),
        "--force-venv-backend", "uv", "--", framework,
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k not in LEFT_OUT} | ENVIRONMENT
    process = subprocess.Popen(
        command, cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def until(marker: str) -> list[str]:
        seen = [lines.get(timeout=WATCH_TIMEOUT)]
        while marker not in seen[-1]:
            seen.append(lines.get(timeout=WATCH_TIMEOUT))
        return seen

    answers, passed = [], True
    try:
        until("Watching")
        for _ in range(edits):
            # A developer's edit takes longer than this: the watch's next cell has imported
            # pact and the framework by then, as it would have.
            time.sleep(EDITING_SECONDS)
            edited = time.perf_counter()
            edit_provider(project, framework)
            answer = until("answered")
            answers.append(time.perf_counter() - edited)
            passed = passed and any("interactions verified" in line for line in answer)
    except queue.Empty:
        passed = False
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as the developer ends it
        process.wait(WATCH_TIMEOUT)
    return WatchRun(answers, passed and len(answers) == edits)


def edit_provider(project: Path, framework: str) -> None:
    """An edit of the provider, as a developer makes one between two runs of a cell."""
    with open(project / "providers" / f"{framework}.py", "a", encoding="utf-8") as source:
        source.write(f"# edited at {time.time()}\n")
