"""`python -m verification cell FRAMEWORK`: the one process a matrix cell runs.

Real cells: the real verifier against the real provider, the pacts published to an embedded
broker of the command's own (no PACT_BROKER_BASE_URL), the result written where the verdict
reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verification.__main__ import main
from verification.cell import Cell
from verification.settings import Settings


@pytest.fixture
def cell_environment(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PACT_BROKER_BASE_URL", "PACT_URL", "PACT_MATRIX_EMBEDDED_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PACT_DIR", str(settings.pact_dir))
    monkeypatch.setenv("PACT_RESULTS_DIR", str(tmp_path))
    return tmp_path


def test_a_cell_that_passes_says_so_in_one_line_and_writes_its_result(
    cell_environment: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["cell", "flask"]) == 0

    printed = capfd.readouterr()
    name = Cell("flask").name
    assert printed.out.splitlines() == [
        line for line in printed.out.splitlines() if line.startswith(f"{name}: ")
    ]
    assert "interactions verified in" in printed.out
    # The verifier's own report, which it prints as it goes, is kept in the result instead.
    assert "Verifying a pact between" not in printed.out + printed.err
    result = json.loads((cell_environment / f"{name}.json").read_text("utf-8"))
    assert result["success"] is True
    assert "Verifying a pact between" in result["report"]
    assert len(result["interactions"]) > 0
    assert (cell_environment / f"{name}.junit.xml").is_file()


def test_a_cell_that_verified_nothing_fails_and_says_why(
    cell_environment: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACT_DESCRIPTION", "^no interaction is described so$")

    assert main(["cell", "django"]) == 1

    printed = capfd.readouterr()
    assert "selected none of the" in printed.err
    result = json.loads((cell_environment / f"{Cell('django').name}.json").read_text("utf-8"))
    assert result["success"] is False


def test_a_cell_without_pacts_to_serve_says_where_it_looked_without_a_traceback(
    cell_environment: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = cell_environment / "no-pacts"
    empty.mkdir()
    monkeypatch.setenv("PACT_DIR", str(empty))

    assert main(["cell", "flask"]) == 2

    printed = capfd.readouterr()
    assert f"error: no pact files in {empty}" in printed.err
    assert "Traceback" not in printed.err
