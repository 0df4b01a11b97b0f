"""The canary: the whole matrix on the newest release of every framework and server.

`nox -s canary` copies this checkout to a scratch folder, lifts the bounds of the frameworks'
dependency groups there, and runs `nox -s verify` in the copy with publishing off and
PACT_MATRIX_CANARY set: each cell then installs the newest releases its Python can run
(`uv pip install --upgrade`), never what this checkout's uv.lock pins. The report names, for
each cell, its framework's packages newer than the lock, and each interaction that failed,
so that a breaking release is known before an update is merged.

Standard library only: nox's own Python imports this module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from matrix import FRAMEWORKS, PYTHONS, SERIES, newest
from verification import run

# A PEP 508 requirement's name: what is left once its version bounds are lifted.
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")


def prepare(project: Path, scratch: Path) -> Path:
    """Copy the checkout's files (tracked, as they are on disk) to `scratch`, with the
    frameworks' dependency groups unbounded, and return the copy's folder."""
    shutil.rmtree(scratch, ignore_errors=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=project, capture_output=True, check=True
    ).stdout.decode()
    copy = scratch / "project"
    for name in filter(None, listed.split("\0")):
        source = project / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(unbounded(pyproject.read_text("utf-8")), encoding="utf-8")
    return copy


def unbounded(pyproject: str) -> str:
    """`pyproject` with every requirement of each framework's newest series' group stripped to
    its name (the older series keep their bounds: they are verified at their newest patch)."""
    unbound = {newest(framework).name for framework in FRAMEWORKS}
    lines = pyproject.splitlines(keepends=True)
    group: str | None = None
    for index, line in enumerate(lines):
        if header := re.match(r"^\[([^\]]+)\]", line):
            group = None if header.group(1) != "dependency-groups" else ""
            continue
        if group is None:
            continue
        if opened := re.match(r'^"?([A-Za-z0-9_.-]+)"?\s*=\s*\[', line):
            group = opened.group(1)
        if group in unbound:
            lines[index] = re.sub(r'"([^"]+)"', lambda quoted: f'"{_name(quoted.group(1))}"', line)
        if line.rstrip().endswith("]"):
            group = ""
    return "".join(lines)


def _name(requirement: str) -> str:
    found = _NAME.match(requirement)
    return found.group(0).strip() if found else requirement


# Set in the copy's nox: each cell installs the newest releases its Python can run, not the lock.
VARIABLE = "PACT_MATRIX_CANARY"


def environment(scratch: Path) -> dict[str, str | None]:
    """The copy's nox: its own run on its own embedded broker, publishing nothing, each cell
    on the newest releases (None removes a variable)."""
    return {
        VARIABLE: "1",
        "PACT_PUBLISH_VERIFICATION_RESULTS": "false",
        "PACT_MATRIX_BROKER_DB": str(scratch / "pact_broker.sqlite"),
        # The copy is no git checkout: the versions are named.
        "PACT_PROVIDER_VERSION": "canary", "PACT_PROVIDER_BRANCH": "canary",
        "PACT_CONSUMER_VERSION": "canary", "PACT_CONSUMER_BRANCH": "canary",
        "PACT_BROKER_BASE_URL": None, "PACT_URL": None,
        run.RUN_VARIABLE: None,
    }  # fmt: skip


def pythons_drift(project: Path) -> list[str]:
    """Each series whose declared Pythons (matrix/, from its group's requires-python) differ
    from those its release installs on, as uv resolves it from the index's own metadata."""
    groups = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))["dependency-groups"]
    drift = []
    for series in SERIES:
        requirement = next(r for r in groups[series.name] if _name(r).lower() == series.framework)
        installs = [python for python in PYTHONS if _resolves(requirement, python)]
        if installs != series.pythons:
            drift.append(
                f"- {series.name} installs on Python {', '.join(installs) or 'none'} but is "
                f"declared for {', '.join(series.pythons)} (requires-python "
                f"{series.requires_python}): correct [tool.uv.dependency-groups] in pyproject.toml"
            )
    return drift


def _resolves(requirement: str, python: str) -> bool:
    """Whether uv finds a release for `requirement` that installs on `python` (X.Y)."""
    resolved = subprocess.run(
        [sys.executable, "-m", "uv", "pip", "compile", "--no-deps", "--quiet", "--no-header",
         f"--python-version={python}", "-"],
        input=requirement, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return resolved.returncode == 0


def write_report(project: Path, copy: Path, path: Path) -> bool:
    """Write and print the report; whether every cell passed and every series' Pythons are
    those its release's metadata allows."""
    passed, text = report(project, copy)
    drift = pythons_drift(project)
    text += (
        "\n### Pythons of each series\n\n"
        + (
            "\n".join(drift)
            if drift
            else "Each series is declared for the Pythons its releases install on."
        )
        + "\n"
    )
    passed = passed and not drift
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(text, flush=True)
    return passed


def installed(venv: Path) -> dict[str, str]:
    """What a cell's virtualenv holds, by lower-case name."""
    listed = subprocess.run(
        [sys.executable, "-m", "uv", "pip", "list", "--format=json", f"--python={venv}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {package["name"].lower(): package["version"] for package in json.loads(listed)}


def locked(lock: Path) -> dict[str, list[str]]:
    """Every version uv.lock pins of each package (one per series: Django 5.2 and 6.1)."""
    packages: list[dict[str, Any]] = tomllib.loads(lock.read_text("utf-8"))["package"]
    pins: dict[str, list[str]] = {}
    for package in packages:
        if "version" in package:
            pins.setdefault(package["name"].lower(), []).append(package["version"])
    return pins


def framework_packages(pyproject: Path) -> dict[str, set[str]]:
    """The packages of each framework's series' groups, by lower-case name."""
    groups = tomllib.loads(pyproject.read_text("utf-8"))["dependency-groups"]
    return {
        framework: {
            _name(requirement).split("[")[0].lower()
            for series in SERIES
            if series.framework == framework
            for requirement in groups[series.name]
            if isinstance(requirement, str)
        }
        for framework in FRAMEWORKS
    }


def report(project: Path, copy: Path) -> tuple[bool, str]:
    """Whether every cell of the copy's run passed, and the canary's report in Markdown: what
    each cell ran that the lock does not pin, and each failed interaction."""
    pins = locked(project / "uv.lock")
    packages = framework_packages(project / "pyproject.toml")
    results = [json.loads(path.read_text("utf-8")) for path in
               sorted(copy.glob("results/runs/*/verify-*.json"))]  # fmt: skip
    lines = [
        "## Canary: the matrix on the newest releases",
        "",
        "| cell | result | its framework's packages newer than uv.lock |",
        "|---|---|---|",
    ]
    failures: list[str] = []
    for result in results:
        venv = copy / ".nox" / re.sub(r"[^\w]+", "-", result["cell"]).strip("-")
        has = installed(venv) if venv.is_dir() else {}
        newer = [
            f"{name} {has[name]} (locked {', '.join(pins.get(name, ['nowhere']))})"
            for name in sorted(packages[result["framework"]])
            if name in has and has[name] not in pins.get(name, [])
        ]
        verdict = "passed" if result["success"] else "**failed**"
        lines.append(f"| {result['cell']} | {verdict} | {', '.join(newer) or 'none'} |")
        if not result["success"]:
            broken = [i for i in result["interactions"] if not i["success"]]
            failures.append(f"- `{result['cell']}`:")
            failures += [
                f"  - {i['description']}: {'; '.join(i['mismatches'])[:300]}" for i in broken
            ] or [f"  - {(result.get('error') or 'see the cell report')[:300]}"]
    lines.append("")
    if not results:
        lines.append("No cell wrote a result: see the canary run's output.")
    elif failures:
        lines += ["### What failed", "", *failures]
    else:
        lines.append(f"Every one of the {len(results)} cells passed on these releases.")
    return bool(results) and not failures, "\n".join(lines) + "\n"
