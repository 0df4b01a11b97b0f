"""`python -m verification watch FRAMEWORK`: a real cell verified again after each change.

Real cells against an embedded broker of their own (no PACT_BROKER_BASE_URL), as in
test_cell_command.py; the watch is pointed at a folder of the test's (`--path`), so that the
test changes no file of the checkout.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from matrix import PROJECT_ROOT
from tests.output_lines import lines_of, wait_for
from verification.cell import Cell
from verification.settings import Settings
from verification.watch import _checkout_folders, _imported_modules

# Generous: a loaded machine starts a cell's process slowly; each wait ends at its line.
SECONDS = 60


class Watch:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines = lines_of(process)

    def wait_for(self, marker: str) -> list[str]:
        """Every line up to the first that holds `marker`."""
        return wait_for(self.lines, marker, SECONDS)


@pytest.fixture
def watch_environment(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PACT_BROKER_BASE_URL", "PACT_URL", "PACT_MATRIX_EMBEDDED_BROKER")
    }
    (tmp_path / "tmp").mkdir()
    return env | {"PACT_DIR": str(settings.pact_dir), "TMPDIR": str(tmp_path / "tmp")}


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    return folder


@pytest.fixture
def watch(watch_environment: dict[str, str], watched: Path) -> Iterator[Watch]:
    process = subprocess.Popen(
        [sys.executable, "-m", "verification", "watch", "flask", f"--path={watched}"],
        cwd=PROJECT_ROOT,
        env=watch_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Watch(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_each_change_is_verified_again_by_a_cell(watch: Watch, watched: Path) -> None:
    # Some interactions verified, never zero.
    passed = re.compile(rf"{re.escape(Cell('flask').name)}: [1-9][0-9]* interactions verified")
    first = watch.wait_for("Watching")
    assert any(passed.match(line) for line in first), "".join(first)

    for edit in range(2):
        (watched / "module.py").write_text(f"EDIT = {edit}\n", "utf-8")
        again = watch.wait_for("answered")
        assert any("Changed:" in line and "module.py" in line for line in again)
        assert any(passed.match(line) for line in again), "".join(again)


def test_a_file_that_is_not_python_changes_nothing(watch: Watch, watched: Path) -> None:
    watch.wait_for("Watching")
    (watched / "notes.txt").write_text("not code\n", "utf-8")
    (watched / "module.py").write_text("EDIT = 1\n", "utf-8")

    again = watch.wait_for("answered")
    # One verification, for the Python file alone.
    changed = [line for line in again if "Changed:" in line]
    assert len(changed) == 1
    assert "module.py" in changed[0]
    assert "notes.txt" not in changed[0]


def test_ctrl_c_ends_the_watch_and_its_waiting_cell_and_leaves_nothing(
    watch: Watch, watch_environment: dict[str, str]
) -> None:
    watch.wait_for("Watching")
    watcher = psutil.Process(watch.process.pid)
    (waiting,) = watcher.children()  # the next cell, started ahead

    watch.process.send_signal(signal.SIGINT)

    assert watch.process.wait(SECONDS) == 130
    assert not psutil.pid_exists(waiting.pid) or waiting.status() == psutil.STATUS_ZOMBIE
    assert list(Path(watch_environment["TMPDIR"]).iterdir()) == []  # its results folder too


def test_the_watch_ends_when_what_started_it_ends(
    watch_environment: dict[str, str], watched: Path
) -> None:
    # A parent that starts the watch, says its pid once it watches, and dies at once (as a nox
    # killed outright would): the watch must not go on without it.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys\n"
            "watch = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
            "for line in watch.stdout:\n"
            "    if 'Watching' in line:\n"
            "        print(watch.pid, flush=True)\n"
            "        os._exit(0)\n",
            *(sys.executable, "-m", "verification", "watch", "flask", f"--path={watched}"),
        ],
        cwd=PROJECT_ROOT,
        env=watch_environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = parent.communicate(timeout=SECONDS)
    orphan = psutil.Process(int(out))

    orphan.wait(SECONDS)  # psutil.TimeoutExpired if it watches on (its exit code is not ours)
    assert not orphan.is_running()


def test_wrong_settings_end_the_watch_at_once(
    watch_environment: dict[str, str], watched: Path
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "verification", "watch", "flask", f"--path={watched}"],
        cwd=PROJECT_ROOT,
        env=watch_environment | {"PACT_DESCRIPTION": "(unclosed"},
        capture_output=True,
        text=True,
        timeout=SECONDS,
    )

    assert completed.returncode == 2
    assert "PACT_DESCRIPTION is not a valid regular expression" in completed.stderr
    assert "Watching" not in completed.stdout


def test_importing_ahead_what_a_cell_imported_imports_nothing_of_the_checkout() -> None:
    # This process has imported the checkout's providers, states and harness, and the
    # frameworks and pact with them: as a cell has.
    for framework in ("flask", "fastapi"):
        importlib.import_module(f"providers.{framework}")

    imported = _imported_modules(sys.modules.items())
    assert "flask" in imported["outside"]
    assert "pact" in imported["outside"]
    assert str(PROJECT_ROOT / "providers" / "flask.py") in imported["checkout"]
    assert not any(name.split(".")[0] in ("providers", "states") for name in imported["outside"])

    # The waiting cell imports the outside ones; none of them may bring checkout code along,
    # which would then be the code of before the change.
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, json, sys\n"
            "for name in json.loads(sys.stdin.read()):\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except Exception:\n"
            "        pass\n"
            "print(json.dumps([getattr(getattr(m, '__spec__', None), 'origin', None) or ''"
            " for m in list(sys.modules.values())]))\n",
        ],
        cwd=PROJECT_ROOT,
        input=json.dumps(imported["outside"]),
        capture_output=True,
        text=True,
        timeout=SECONDS,
        check=True,
    )
    venv = Path(sys.prefix).resolve()
    from_checkout = [
        origin
        for origin in json.loads(completed.stdout)
        if origin.startswith("/")
        and Path(origin).resolve().is_relative_to(PROJECT_ROOT)
        and not Path(origin).resolve().is_relative_to(venv)
    ]
    assert from_checkout == []


def test_a_watch_whose_first_cell_crashed_watches_every_package(tmp_path: Path) -> None:
    # A provider that does not even import leaves no list of what the cell imported.
    folders = _checkout_folders(tmp_path / "never-written.json")

    assert PROJECT_ROOT / "providers" in folders
    assert PROJECT_ROOT / "states" in folders
    assert all(folder.is_dir() for folder in folders)
