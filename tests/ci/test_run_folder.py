"""Which nox processes share one run's folder (its cells' rows, its embedded broker, its verdict).

The workers of `nox --parallel` must share it; any other nox that inherits the variables (a
test that runs nox in a clone from inside a session does) is a run of its own. Sharing it, such
a run left its broker for the outer run's cells to use, and the outer verdict found no broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from matrix import PROJECT_ROOT

# Loads the noxfile as nox does, and says which folder it chose and whether it owns it.
LOAD_NOXFILE = """
import json, runpy
names = runpy.run_path("noxfile.py")
print(json.dumps({"folder": str(names["RUN_DIR"]), "main": names["_MAIN_PROCESS"]}))
"""


def load_noxfile(**variables: str) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PACT_MATRIX_RUN")}
    answer = subprocess.run(
        [sys.executable, "-c", LOAD_NOXFILE],
        cwd=PROJECT_ROOT,
        env=env | variables,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: dict[str, object] = json.loads(answer.stdout.splitlines()[-1])
    return loaded


def test_a_nox_started_by_no_run_names_a_folder_of_its_own() -> None:
    loaded = load_noxfile()
    assert loaded["main"] is True
    assert str(loaded["folder"]).startswith("/")


def test_a_child_of_the_run_that_named_the_folder_is_its_worker(tmp_path: Path) -> None:
    # This process stands for the main nox: the loaded noxfile is its child, as a worker is.
    loaded = load_noxfile(PACT_MATRIX_RUN_DIR=str(tmp_path), PACT_MATRIX_RUN_OWNER=str(os.getpid()))
    assert loaded == {"folder": str(tmp_path), "main": False}


def test_a_nox_that_only_inherited_the_folder_is_a_run_of_its_own(tmp_path: Path) -> None:
    # As a test's nox inside a session: the variables came through pytest, not from its parent.
    loaded = load_noxfile(PACT_MATRIX_RUN_DIR=str(tmp_path), PACT_MATRIX_RUN_OWNER="1")
    assert loaded["main"] is True
    assert loaded["folder"] != str(tmp_path)
