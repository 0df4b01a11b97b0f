"""The canary's pieces: the copy with the frameworks' bounds lifted, and its report.

The canary's run itself (`nox -s canary`: every cell on the newest releases) takes minutes
and the network; its report on the day it ran is in the issue's note, not here.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from matrix import FRAMEWORKS, PROJECT_ROOT, SERIES, newest
from verification import canary


def test_the_copy_lifts_the_frameworks_bounds_and_nothing_else(tmp_path: Path) -> None:
    copy = canary.prepare(PROJECT_ROOT, tmp_path)
    here = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))
    there = tomllib.loads((copy / "pyproject.toml").read_text("utf-8"))
    newest_series = {newest(framework).name for framework in FRAMEWORKS}
    assert "django-5.2" not in newest_series  # an older series keeps its bounds
    for name, group in there["dependency-groups"].items():
        if name in newest_series:
            assert group == [canary._name(r) for r in here["dependency-groups"][name]]
            assert all(not any(c in r for c in "<>=~!") for r in group if isinstance(r, str))
        else:
            assert group == here["dependency-groups"][name], name  # the test tools stay pinned
    assert {k: v for k, v in there.items() if k != "dependency-groups"} == {
        k: v for k, v in here.items() if k != "dependency-groups"
    }
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert all((copy / name).exists() for name in tracked if (PROJECT_ROOT / name).is_file())


def test_a_requirements_name_survives_its_bounds_and_extras() -> None:
    assert canary._name("uvicorn>=0.54,<0.56") == "uvicorn"
    assert canary._name("nox[uv]>=2026.10.20") == "nox[uv]"
    assert canary._name("fastapi-offline>=1.7,<1.8") == "fastapi-offline"


def result(cell: str, framework: str, *, failed: str | None = None) -> dict[str, object]:
    interactions = [{"description": "a request for user 42", "success": True, "mismatches": []}]
    if failed:
        interactions.append({"description": failed, "success": False,
                             "mismatches": ["expected 404 but was 500"]})  # fmt: skip
    return {"cell": cell, "framework": framework, "success": failed is None,
            "interactions": interactions, "error": None}  # fmt: skip


def test_the_report_names_each_failed_interaction_and_passes_only_when_all_passed(
    tmp_path: Path,
) -> None:
    run = tmp_path / "copy" / "results" / "runs" / "canary-run"
    run.mkdir(parents=True)
    (run / "verify-3.13(flask).json").write_text(json.dumps(result("verify-3.13(flask)", "flask")))
    passed, text = canary.report(PROJECT_ROOT, tmp_path / "copy")
    assert passed
    assert "| verify-3.13(flask) | passed |" in text

    broken = result("verify-3.13(django)", "django", failed="a request to delete user 7")
    (run / "verify-3.13(django).json").write_text(json.dumps(broken))
    passed, text = canary.report(PROJECT_ROOT, tmp_path / "copy")
    assert not passed
    assert "| verify-3.13(django) | **failed** |" in text
    assert "- a request to delete user 7: expected 404 but was 500" in text


def test_no_result_is_no_pass(tmp_path: Path) -> None:
    passed, text = canary.report(PROJECT_ROOT, tmp_path)
    assert not passed
    assert "No cell wrote a result" in text


def test_the_lock_pins_one_release_of_each_series_and_the_report_knows_them_all() -> None:
    pins = canary.locked(PROJECT_ROOT / "uv.lock")
    django = [series.release for series in SERIES if series.framework == "django"]
    assert len(pins["django"]) == len(django) == 2
    assert all(
        any(version.startswith(f"{release}.") for version in pins["django"]) for release in django
    )


def test_a_series_declared_for_other_pythons_than_its_release_installs_on_is_drift(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What uv resolves from the index is stood in for here (the canary asks the network):
    the comparison with the declared Pythons is what is checked."""

    def index(django_61_from: str) -> None:
        def resolves(requirement: str, python: str) -> bool:
            if requirement.startswith("django>=6.1"):
                return tuple(map(int, python.split("."))) >= tuple(
                    map(int, django_61_from.split("."))
                )
            return True

        monkeypatch.setattr(canary, "_resolves", resolves)

    index(django_61_from="3.12")  # as Django 6.1's Requires-Python says, and pyproject declares
    assert canary.pythons_drift(PROJECT_ROOT) == []

    index(django_61_from="3.11")  # a release that would also install on 3.11
    (drift,) = canary.pythons_drift(PROJECT_ROOT)
    assert drift.startswith("- django-6.1 installs on Python 3.11, 3.12, 3.13 but is declared")
    assert "[tool.uv.dependency-groups]" in drift
