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
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

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


@dataclass(frozen=True)
class MatrixRun:
    wall: float  # the whole nox run
    sessions: dict[str, float]  # each cell's nox session, as nox timed it
    verdict: float  # the verdict session: judging, publishing, asking can-i-deploy
    verification: dict[str, float]  # each cell's `verification.cell.run`, as the cell timed it
    consumer_tests: dict[str, float]  # each cell's consumer tests, which write its pacts
    # Each cell's verification test: starting the broker and publishing to it, then the cell.
    verification_test: dict[str, float]
    passed: bool

    @property
    def outside_share(self) -> float:
        """The share of the wall time spent outside the verifications themselves."""
        return 1 - sum(self.verification.values()) / self.wall


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


def run(project: Path, envdir: Path, backend: str, *, jobs: int = 1) -> MatrixRun:
    """`nox -s verify` in `project` with venvs in `envdir`, made by `backend`."""
    report = envdir.parent / f"{envdir.name}-report.json"
    junit_dir = envdir.parent / f"{envdir.name}-junit"
    shutil.rmtree(project / "results", ignore_errors=True)
    shutil.rmtree(junit_dir, ignore_errors=True)
    junit_dir.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "nox",
        "--sessions",
        "verify",
        # As users run the matrix: under --parallel nox cannot queue the verdict, so it is named.
        *(["verdict"] if jobs > 1 else []),
        "--envdir",
        str(envdir),
        "--force-venv-backend",
        backend,
        "--report",
        str(report),
    ]
    if jobs > 1:
        command += ["--parallel", str(jobs)]  # the cells allow it; the verdict runs after them
    # Arguments after `--` go to each cell's pytest: a JUnit file per cell (pytest expands the
    # variable, which nox sets to the session's name), for its test times.
    command += ["--", f"--junitxml={junit_dir}/$NOX_CURRENT_SESSION.xml"]
    environment = {k: v for k, v in os.environ.items() if k not in LEFT_OUT} | ENVIRONMENT
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    sessions = {
        session["signatures"][0] if session.get("signatures") else session["name"]: float(
            session["duration"]
        )
        for session in json.loads(report.read_text("utf-8"))["sessions"]
        if session["result_code"] != SKIPPED  # a combination the matrix leaves out
    }
    verification = {}
    # The run's folder (results/runs/<run>/): this nox's only run, results/ being removed first.
    for result_file in sorted((project / "results").glob("runs/*/verify-*.json")):
        result = json.loads(result_file.read_text("utf-8"))
        verification[result_file.stem] = float(result["seconds"])
    consumer = {cell: _test_seconds(junit_dir / f"{cell}.xml", "consumer") for cell in verification}
    verification_test = {
        cell: _test_seconds(junit_dir / f"{cell}.xml", "verification") for cell in verification
    }
    verdict = sessions.pop("verdict", float("nan"))
    passed = completed.returncode == 0 and len(verification) == len(sessions) and verdict >= 0
    if not passed:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
    return MatrixRun(wall, sessions, verdict, verification, consumer, verification_test, passed)


def _test_seconds(junit: Path, folder: str) -> float:
    """The time of the tests under tests/<folder>, their fixtures' set-up included."""
    if not junit.exists():
        return float("nan")
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    return sum(float(case.get("time", 0)) for case in cases if folder in case.get("classname", ""))
