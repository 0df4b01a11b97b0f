"""Run every measurement of issue 7 and write the tables to BENCHMARKS.md.

    python -m benchmarks [--baseline REV] [--repeats 3] [--skip matrix virtualenv ...]

Each figure is set against its limit measured in the same run. The tables replace the part of
BENCHMARKS.md between the two `bench` markers; the notes around them are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import matrix
from benchmarks.failures import HANG_SECONDS, PASSING, SCENARIOS
from benchmarks.harness import median
from matrix import ALL_CELLS, FRAMEWORKS, PROJECT_ROOT
from verification.slices import SLICE_SIZE

START_MARKER = "<!-- bench:start (written by `nox -s bench`; edit outside these markers) -->"
END_MARKER = "<!-- bench:end -->"
PARTS = ("throughput", "lifecycle", "broker", "matrix", "virtualenv", "failures", "pactgen")

# Throughput variants: (label, ca_fix, quiet_ffi, sliced). "before" undoes the harness's fixes.
VARIANTS = (
    ("before: plain verifier", False, False, False),
    ("CA bundle of one certificate", True, False, False),
    ("+ FFI logs at WARNING (unsliced)", True, True, False),
    (f"after: + slices of {SLICE_SIZE} (as shipped)", True, True, True),
)
AFTER = VARIANTS[-1][0]
UNSLICED = VARIANTS[-2][0]
BEFORE = VARIANTS[0][0]
# The pact sizes of the scaling table (issue 26, item 3).
SCALING_SIZES = (100, 500, 1000, 2000)
# Cells at once in the matrix's rows: one (the default), one per core, and one more, since a
# cell waits in turn on its verifier, its provider and the broker.
JOBS = tuple(sorted({1, os.cpu_count() or 1, (os.cpu_count() or 1) + 1}))


class Bench:
    def __init__(self, arguments: argparse.Namespace, scratch: Path) -> None:
        self.arguments = arguments
        self.scratch = scratch
        self.sections: list[str] = []
        self.summary: list[tuple[str, str, str, str, str, str]] = []
        self.waited = 0.0  # seconds spent waiting for the machine to be quiet
        self.busy_rounds = 0  # rounds measured on a busy machine all the same

    # -- running one measurement in a fresh process ------------------------------------------

    def worker(self, name: str, timeout: float = 600, **kwargs: Any) -> dict[str, Any]:
        """`benchmarks.worker` in a subprocess; its stdout (the verifier's report) discarded."""
        out = self.scratch / f"worker-{time.monotonic_ns()}.json"
        command = [sys.executable, "-m", "benchmarks.worker", str(out), name, json.dumps(kwargs)]
        try:
            completed = subprocess.run(
                command,
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"still running after {timeout:.0f} s (stopped)"}
        if completed.returncode != 0 or not out.exists():
            last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {"error": f"exit {completed.returncode}: {last}"}
        result: dict[str, Any] = json.loads(out.read_text("utf-8"))
        return result

    def settle(self) -> None:
        """Wait (at most `--max-wait` seconds) until other processes use under a quarter of
        one core: the machine is shared, and a timing taken while it is busy measures the
        neighbours. What was waited for is reported with the tables."""
        deadline = time.monotonic() + self.arguments.max_wait
        while True:
            busy = _busy_cores(1.0)
            if busy < 0.25:
                return
            if time.monotonic() >= deadline:
                self.busy_rounds += 1
                self.log(f"  the machine is still busy ({busy:.2f} cores): measuring anyway")
                return
            self.waited += 1.0

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def target(
        self, item: str, measured: str, limit: str, ratio: str, target: str, met: bool | None
    ) -> None:
        verdict = "n/a" if met is None else ("**met**" if met else "**not met**")
        self.summary.append((item, measured, limit, ratio, target, verdict))

    # -- 1. verification throughput -----------------------------------------------------------

    def throughput(self) -> None:
        interactions: int = self.arguments.interactions
        seconds: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        errors: list[str] = []
        # Rounds, each running every variant once, so that drift on a shared machine hits all
        # variants alike; medians over the rounds.
        for round_number in range(self.arguments.repeats):
            for framework in FRAMEWORKS:
                self.log(f"throughput: {framework}, round {round_number + 1}")
                self.settle()
                plain = self.worker(
                    "limit", framework=framework, interactions=interactions, repeats=1
                )
                runs: list[tuple[str, dict[str, Any]]] = [("limit", plain)]
                for label, ca_fix, quiet_ffi, sliced in VARIANTS:
                    result = self.worker(
                        "verify",
                        framework=framework,
                        interactions=interactions,
                        repeats=1,
                        ca_fix=ca_fix,
                        quiet_ffi=quiet_ffi,
                        sliced=sliced,
                    )
                    runs.append((label, result))
                for label, result in runs:
                    if "error" in result:
                        errors.append(f"{framework} {label}: {result['error']}")
                        continue
                    key = (framework, label)
                    seconds.setdefault(key, []).extend(result["seconds"])
                    verifier_cpu, process_cpu = cpu.setdefault(key, ([], []))
                    verifier_cpu.extend(result.get("verifier_cpu", []))
                    process_cpu.extend(result["process_cpu"])

        def ips(framework: str, label: str) -> float:
            return interactions / median(seconds.get((framework, label), []))

        def per_interaction(framework: str, label: str, which: int) -> str:
            values = cpu.get((framework, label), ([], []))[which]
            return _ms(median(values) / interactions, 2) if values else "-"

        def cpu_split(framework: str, label: str) -> str:
            verifier, process = (median(v) for v in cpu.get((framework, label), ([], [])))
            return (
                f"{_ms(verifier / interactions, 2)} + {_ms((process - verifier) / interactions, 2)}"
                f" = {_ms(process / interactions, 2)}"
            )

        rows = [
            f'Generated pact of {interactions} interactions, each `given("a user exists", '
            "{id, name})` + `GET /users/{id}`: per interaction a state setup, the request and "
            "a state teardown. Median of "
            f"{self.arguments.repeats} rounds; interactions per second (ips), and the ratio "
            "to the limit. CPU per interaction: the verifier's own thread (`Verifier.verify`, "
            "Rust, without the GIL) + the rest of the process (the provider's server, the "
            "harness) = the whole process; for the limit, the whole process is the client and "
            "the same server.",
            "",
            "| | " + " | ".join(FRAMEWORKS) + " |",
            "|---|" + "---:|" * len(FRAMEWORKS),
            "| limit: one keep-alive httpx.Client, same calls, same server | "
            + " | ".join(f"{ips(f, 'limit'):.0f} ips" for f in FRAMEWORKS)
            + " |",
        ]
        for label, _, _, _ in VARIANTS:
            rows.append(
                f"| cell ({label}) | "
                + " | ".join(
                    f"{ips(f, label):.0f} ips = {ips(f, label) / ips(f, 'limit'):.2f}"
                    for f in FRAMEWORKS
                )
                + " |"
            )
        rows.append(
            "| CPU per interaction, limit: client and server (whole process) | "
            + " | ".join(per_interaction(f, "limit", 1) for f in FRAMEWORKS)
            + " |"
        )
        for label in (UNSLICED, AFTER):
            rows.append(
                f"| CPU per interaction, {label}: verifier thread + rest = whole process | "
                + " | ".join(
                    cpu_split(f, label) if cpu.get((f, label), ([], []))[0] else "-"
                    for f in FRAMEWORKS
                )
                + " |"
            )
        rows += [f"\nError: {error}" for error in errors]
        for framework in FRAMEWORKS:
            after = ips(framework, AFTER)
            limit = ips(framework, "limit")
            self.target(
                f"1. throughput, {framework}",
                f"{after:.0f} ips (before {ips(framework, BEFORE):.0f})",
                f"{limit:.0f} ips",
                f"{after / limit:.2f}",
                ">= 0.6 and >= 100 ips",
                after / limit >= 0.6 and after >= 100,
            )
        # After the 500-interaction targets: the scaling table adds the large-pact ones.
        rows += ["", *self.scaling()]
        self.sections.append("### 1. Verification throughput\n\n" + "\n".join(rows))

    def scaling(self) -> list[str]:
        """Every framework at every size of SCALING_SIZES, sliced (as shipped) and unsliced,
        each against the limit at the same size, in interleaved rounds."""
        seconds: dict[tuple[str, int, str], list[float]] = {}
        verifier_cpu: dict[tuple[str, int, str], list[float]] = {}
        errors: list[str] = []
        kinds = ("limit", "sliced", "unsliced")
        for round_number in range(self.arguments.repeats):
            for framework in FRAMEWORKS:
                for interactions in SCALING_SIZES:
                    self.log(
                        f"throughput: scaling, {framework}, {interactions} interactions, "
                        f"round {round_number + 1}"
                    )
                    self.settle()
                    for kind in kinds:
                        if kind == "limit":
                            result = self.worker(
                                "limit", framework=framework, interactions=interactions, repeats=1
                            )
                        else:
                            result = self.worker(
                                "verify",
                                framework=framework,
                                interactions=interactions,
                                repeats=1,
                                ca_fix=True,
                                quiet_ffi=True,
                                sliced=kind == "sliced",
                            )
                        if "error" in result:
                            errors.append(f"{framework} {interactions} {kind}: {result['error']}")
                            continue
                        key = (framework, interactions, kind)
                        seconds.setdefault(key, []).extend(result["seconds"])
                        verifier_cpu.setdefault(key, []).extend(result.get("verifier_cpu", []))

        def ips(key: tuple[str, int, str]) -> float:
            return key[1] / median(seconds.get(key, []))

        def cell(framework: str, interactions: int, kind: str) -> str:
            key = (framework, interactions, kind)
            ratio = ips(key) / ips((framework, interactions, "limit"))
            cpu = _ms(median(verifier_cpu.get(key, [])) / interactions, 2)
            return f"{ips(key):.0f} ips = {ratio:.2f} | {cpu}"

        rows = [
            "How throughput and the verifier's own CPU per interaction change with the pact's "
            f"size, every framework; median of {self.arguments.repeats} interleaved rounds. "
            f"Sliced (as shipped): a pact of more than {SLICE_SIZE} interactions is verified "
            f"from slices of {SLICE_SIZE}, in one verifier run (`verification/slices.py`); "
            "unsliced: the verifier fetches the whole pact from the broker.",
            "",
            "| framework | interactions | limit | sliced (as shipped) | verifier CPU per "
            "interaction | unsliced | verifier CPU per interaction |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for framework in FRAMEWORKS:
            for interactions in SCALING_SIZES:
                rows.append(
                    f"| {framework} | {interactions}"
                    f" | {ips((framework, interactions, 'limit')):.0f} ips"
                    f" | {cell(framework, interactions, 'sliced')}"
                    f" | {cell(framework, interactions, 'unsliced')} |"
                )
        rows += [f"\nError: {error}" for error in errors]
        for framework in FRAMEWORKS:
            sliced = ips((framework, 1000, "sliced"))
            limit = ips((framework, 1000, "limit"))
            self.target(
                f"1. large pact (1000 interactions), {framework}",
                f"{sliced:.0f} ips (unsliced {ips((framework, 1000, 'unsliced')):.0f})",
                f"{limit:.0f} ips",
                f"{sliced / limit:.2f}",
                ">= 0.6",
                sliced / limit >= 0.6,
            )
        return rows

    # -- 2. provider start and stop ----------------------------------------------------------

    def lifecycle(self) -> None:
        rows = [
            "Median (max) of 20 cycles after a warm-up; the floor is a bare loopback socket "
            "bind+listen (ready) and its close (shutdown).",
            "",
            "| framework | ready | bind floor | ready / floor | shutdown | close floor |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for framework in FRAMEWORKS:
            result = self.worker("lifecycle", framework=framework, cycles=20)
            if "error" in result:
                rows.append(f"| {framework} | {result['error']} | | | | |")
                continue
            ready, shutdown = median(result["ready"]), median(result["shutdown"])
            bind, close = median(result["bind"]), median(result["close"])
            rows.append(
                f"| {framework} | {_ms(ready)} ({_ms(max(result['ready']))}) | {_ms(bind, 3)}"
                f" | {ready / bind:.0f}x | {_ms(shutdown)} ({_ms(max(result['shutdown']))})"
                f" | {_ms(close, 3)} |"
            )
            self.target(
                f"2. start / stop, {framework}",
                f"ready {_ms(ready)}, shutdown {_ms(shutdown)}",
                f"bind {_ms(bind, 3)}, close {_ms(close, 3)}",
                f"{ready / bind:.0f}x / {shutdown / close:.0f}x",
                "ready < 10 ms, shutdown < 60 ms",
                ready < 0.010 and shutdown < 0.060,
            )
        self.sections.append("### 2. Provider start-to-ready and shutdown\n\n" + "\n".join(rows))

    # -- 3. the broker ---------------------------------------------------------------------

    def broker(self) -> None:
        from broker import bench as broker_bench

        self.log("broker: filling to 10,000 versions")
        started = time.perf_counter()
        table = broker_bench.run(
            10, self.arguments.broker_versions // 10, self.scratch / "broker-bench.sqlite"
        )
        filled = time.perf_counter() - started
        rows = [
            "`broker.bench` (as `nox -s bench_broker`): 10 consumers, publishing over HTTP, "
            f"filled and measured in {filled:.0f} s.",
            "",
            table,
            "",
            "The time a cell spends talking to the broker, per pact (one cell, results "
            f"published; median of {self.arguments.repeats}). Fetch: the verifier's requests "
            "before its first interaction; publish: its requests after the last one; "
            "the harness: pre-selection and the publication check, client set-up included. "
            "The floor: one `GET /` by an already connected keep-alive client.",
            "",
            "| pact | cell | verifier fetch | verifier publish | verifier requests "
            "(server time) | harness | share of the cell | floor: one request "
            "| fetch / (requests x floor) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for interactions in (6, self.arguments.interactions):
            result = self.worker(
                "brokertime",
                framework=FRAMEWORKS[-1],
                interactions=interactions,
                repeats=self.arguments.repeats,
            )
            if "error" in result:
                rows.append(f"| {interactions} interactions | {result['error']} | | | | | | | |")
                continue

            def middle(key: str, runs: list[dict[str, float]] = result["runs"]) -> float:
                return median([run[key] for run in runs])

            talking = middle("fetch_window") + middle("publish_window") + middle("harness_seconds")
            # A sliced pact is fetched by the cell (the harness), not the verifier: no ratio.
            requests = middle("fetch_requests")
            fetch_ratio = (
                f"{middle('fetch_window') / (requests * middle('round_trip')):.1f}"
                if requests
                else "-"
            )
            rows.append(
                f"| {interactions} interactions | {_ms(middle('cell_seconds'))}"
                f" | {_ms(middle('fetch_window'))} ({middle('fetch_requests'):.0f} requests)"
                f" | {_ms(middle('publish_window'))} ({middle('publish_requests'):.0f} requests)"
                f" | {middle('verifier_requests'):.0f} ({_ms(middle('verifier_server_time'))})"
                f" | {_ms(middle('harness_seconds'))}"
                f" | {talking / middle('cell_seconds'):.0%}"
                f" | {_ms(middle('round_trip'), 2)}"
                f" | {fetch_ratio} |"
            )
        self.sections.append("### 3. The broker\n\n" + "\n".join(rows))

    # -- 4. the matrix ---------------------------------------------------------------------

    def matrix(self, *, virtualenv: bool) -> None:
        trees: list[tuple[str, Path]] = []
        if self.arguments.baseline:
            baseline = matrix.export_revision(self.arguments.baseline, self.scratch / "baseline")
            trees.append((f"before ({self.arguments.baseline})", baseline))
        current = matrix.copy_worktree(self.scratch / "current")
        trees.append(("after (this tree)", current))
        backends = ["uv", *(["virtualenv"] if virtualenv else [])]
        rows = [
            f"`nox -s verify` ({len(ALL_CELLS)} cells, each verifying the consumer's pact, then "
            "the verdict) in a scratch copy with its own venv folder. Cold: new venvs (download "
            f"caches warm); warm: venvs reused, median of {self.arguments.repeats}. The floor: "
            f"each cell's interpreter running `{matrix.FLOOR_IMPORTS}` once in its own venv "
            '(median of 3), summed over the cells. "Outside": the share of the wall time not '
            "spent in the cells' `verification.cell.run`.",
            "",
            "| tree | backend | cells at once | cold | warm | floor | warm / floor | outside |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        warm_after: matrix.MatrixRun | None = None
        for label, tree in trees:
            floors: dict[str, float] = {}  # measured in the tree's first warm venvs
            for backend in backends:
                envdir = self.scratch / f"envs-{tree.name}-{backend}"
                for jobs in JOBS if tree is current and backend == "uv" else (1,):
                    cold: matrix.MatrixRun | None = None
                    if jobs == 1:
                        shutil.rmtree(envdir, ignore_errors=True)
                        self.log(f"matrix: {label}, {backend}, cold")
                        cold = matrix.run(tree, envdir, backend)
                    warm_runs = []
                    for number in range(self.arguments.repeats):
                        self.log(f"matrix: {label}, {backend}, {jobs} at once, warm {number + 1}")
                        self.settle()
                        warm_runs.append(matrix.run(tree, envdir, backend, jobs=jobs))
                    warm = sorted(warm_runs, key=lambda run: run.wall)[len(warm_runs) // 2]
                    if not floors:
                        floors = matrix.floor(envdir, sorted(warm.cells))
                    rows.append(_matrix_row(label, backend, jobs, cold, warm, floors))
                    if tree is current and backend == "uv" and jobs == 1:
                        warm_after = warm
        self.sections.append("### 4. The `nox -s verify` matrix\n\n" + "\n".join(rows))
        if warm_after is None:
            return
        self.sections[-1] += "\n\n" + "\n".join(_where_the_time_went(warm_after, floors))
        floor = sum(floors.values())
        self.target(
            "4. warm matrix, against its floor",
            f"{warm_after.wall:.1f} s for {len(warm_after.cells)} cells, verdict included",
            f"{floor:.2f} s (the cells' interpreters and imports)",
            f"{warm_after.wall / floor:.2f}",
            "<= 1.5 x the floor",
            warm_after.wall <= 1.5 * floor,
        )
        self.one_cell_after_an_edit(current, self.scratch / "envs-current-uv", floors)

    def one_cell_after_an_edit(self, tree: Path, envdir: Path, floors: dict[str, float]) -> None:
        """`nox -s <one cell>` after an edit of its provider, as in the inner loop."""
        cell = sorted(floors)[0]
        framework = cell.split("(")[1].split("-")[0]
        runs = []
        for number in range(self.arguments.repeats):
            self.log(f"matrix: one cell after an edit, {number + 1}")
            matrix.edit_provider(tree, framework)
            self.settle()
            runs.append(matrix.run(tree, envdir, "uv", sessions=(cell,)))
        wall = sorted(run.wall for run in runs)[len(runs) // 2]
        self.sections[-1] += (
            f'\n\nOne cell after an edit of its provider (`nox -s "{cell}"`, median of '
            f"{len(runs)}; a run of part of the matrix, so no verdict): {wall:.2f} s, "
            f"against its floor of {floors[cell]:.2f} s."
        )
        self.target(
            "4. one cell after an edit, against its floor",
            f'{wall:.2f} s (`nox -s "{cell}"`)',
            f"{floors[cell]:.2f} s",
            f"{wall / floors[cell]:.2f}",
            "<= 2 x its floor",
            wall <= 2 * floors[cell] and all(run.passed for run in runs),
        )
        self.watch_after_an_edit(tree, envdir, framework)

    def watch_after_an_edit(self, tree: Path, envdir: Path, framework: str) -> None:
        """`nox -s watch -- FRAMEWORK`, the inner loop's own command: edit, save, answer."""
        edits = max(5, self.arguments.repeats)
        self.log(f"matrix: the watch, {edits} edits")
        self.settle()
        watched = matrix.watch(tree, envdir, framework, edits)  # the first makes its venv
        if not watched.answers:
            self.sections[-1] += "\n\nThe watch gave no answer (its output is above)."
            return
        floor = matrix.import_floor(envdir / "watch", framework)
        answer = median(watched.answers)
        self.sections[-1] += (
            f"\n\nThe same edit under `nox -s watch -- {framework}` (its newest series on the "
            f"newest Python; median of {len(watched.answers)} edits, from the write to the "
            f"watch's answer): {answer:.2f} s (each: "
            f"{', '.join(f'{seconds:.2f}' for seconds in watched.answers)} s), against its "
            f"floor of {floor:.2f} s: the cell's process imported pact and the framework while "
            "the code was being edited."
        )
        self.target(
            "4. one cell after an edit, in the watch, against its floor",
            f"{answer:.2f} s (`nox -s watch -- {framework}`)",
            f"{floor:.2f} s",
            f"{answer / floor:.2f}",
            "<= 2 x its floor",
            answer <= 2 * floor and watched.passed,
        )

    # -- 5. failures ------------------------------------------------------------------------

    def failures(self) -> None:
        rows = [
            "A cell on a generated pact of 3 interactions with a fault in the provider. "
            "`state-raises`: the state setup's store raises; `provider-hangs`: every "
            f"`GET /users/{{id}}` blocks for {HANG_SECONDS:.0f} s. Time from the cell's start "
            "to its result, against the same cell with no fault, and the first line of what "
            "it says.",
            "",
            "| fault | framework | time to the result | limit: the same cell, no fault "
            "| ratio | outcome | message |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        worst: dict[str, tuple[float, float]] = {}
        for framework in FRAMEWORKS:
            passing = self.worker(
                "failure", framework=framework, scenario=PASSING, interactions=3
            ).get("seconds", float("nan"))
            for scenario in SCENARIOS:
                self.log(f"failures: {scenario}, {framework}")
                result = self.worker(
                    "failure", timeout=300, framework=framework, scenario=scenario, interactions=3
                )
                if "error" in result:
                    rows.append(f"| {scenario} | {framework} | - | | | {result['error']} | |")
                    worst[scenario] = (float("inf"), passing)
                    continue
                seconds = result["seconds"]
                message = result["message"].replace("|", "\\|")[:160]
                rows.append(
                    f"| {scenario} | {framework} | {seconds:.2f} s | {passing:.2f} s"
                    f" | {seconds / passing:.1f}x | {result['outcome']} | {message} |"
                )
                if seconds >= worst.get(scenario, (0.0, 0.0))[0]:
                    worst[scenario] = (seconds, passing)
        self.sections.append("### 5. What a failure costs\n\n" + "\n".join(rows))
        for scenario, (seconds, passing) in worst.items():
            self.target(
                f"5. failure: {scenario}",
                f"{seconds:.1f} s (slowest framework)",
                f"{passing:.2f} s without the fault",
                f"{seconds / passing:.1f}x",
                "< 10 s",
                seconds < 10,
            )

    # -- 6. generating the pact ---------------------------------------------------------------

    def pactgen(self) -> None:
        interactions = self.arguments.interactions
        result = self.worker("pactgen", interactions=interactions, repeats=self.arguments.repeats)
        if "error" in result:
            self.sections.append(f"### 6. Generating the pact\n\nError: {result['error']}")
            return
        seconds, floor = median(result["seconds"]), median(result["floor"])
        self.sections.append(
            "### 6. Generating the pact\n\n"
            f"`benchmarks.pactgen.write_pact`: {result['interactions']} interactions, one "
            f"`Pact` object, written without serving a mock: {seconds:.3f} s (median of "
            f"{self.arguments.repeats}). The floor, writing the same JSON document from memory "
            f"with `json.dumps`: {floor:.3f} s."
        )
        self.target(
            f"6. generating a {interactions}-interaction pact",
            f"{seconds:.3f} s",
            f"{floor:.3f} s (json.dumps of the same pact)",
            f"{seconds / floor:.1f}",
            "< 10 s",
            seconds < 10,
        )

    # -- the report -----------------------------------------------------------------------

    def markdown(self, command: str, load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
        summary = [
            "| item | measured (after) | limit | ratio | target | |",
            "|---|---|---|---:|---|---|",
            *("| " + " | ".join(row) + " |" for row in self.summary),
        ]
        return "\n\n".join(
            [
                START_MARKER,
                f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with "
                f"`{command}`.",
                _machine(load)
                + f" Waited {self.waited:.0f} s in all for other processes to use under a quarter "
                f"of a core before timing rounds; {self.busy_rounds} round(s) measured on a busy "
                "machine after waiting the most allowed.",
                "### Targets\n\n" + "\n".join(summary),
                *self.sections,
                END_MARKER,
            ]
        )


def _matrix_row(
    label: str,
    backend: str,
    jobs: int,
    cold: matrix.MatrixRun | None,
    warm: matrix.MatrixRun,
    floors: dict[str, float],
) -> str:
    status = "" if warm.passed and (cold is None or cold.passed) else " (FAILED)"
    floor = sum(floors.values())
    return (
        f"| {label}{status} | {backend} | {jobs} | "
        f"{'-' if cold is None else f'{cold.wall:.1f} s'} | {warm.wall:.1f} s | {floor:.2f} s"
        f" | {warm.wall / floor:.2f} | {warm.outside_share:.0%} |"
    )


def _where_the_time_went(warm: matrix.MatrixRun, floors: dict[str, float]) -> list[str]:
    """The warm run's time, per cell (from the timestamps nox logged) and once per run."""
    rows = [
        "Where the warm run of this tree (1 cell at a time) spent its time. Per cell, nox's "
        "session: nox itself (reusing the venv), `uv sync` checking it, then the cell's "
        "process (`python -m verification cell`): its floor, the verification "
        "(`verification.cell.run`: asking the broker which pacts, serving the provider, the "
        "verifier), and the rest (importing the harness and httpx, writing the result, exit).",
        "",
        "| cell | session | nox | uv sync | cell process | of it: floor | verification "
        "| the rest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, cell in sorted(warm.cells.items()):
        rest = cell.cell - floors.get(name, float("nan")) - cell.verification
        rows.append(
            f"| {name} | {cell.session:.2f} s | {cell.nox:.2f} s | {cell.uv:.2f} s"
            f" | {cell.cell:.2f} s | {floors.get(name, float('nan')):.2f} s"
            f" | {cell.verification:.2f} s | {rest:.2f} s |"
        )
    sessions = sum(cell.session for cell in warm.cells.values())
    first = sum(cell.first for cell in warm.cells.values())
    rest = warm.wall - sessions - warm.verdict - warm.nox_start
    rows += [
        "",
        f"Once per run: starting nox {warm.nox_start:.2f} s; the first cell's settings check "
        f"and the consumer's pacts {first:.2f} s (included in its session above); the verdict "
        f"(judge, publish, ask can-i-deploy) {warm.verdict:.2f} s; the rest (between sessions, "
        f"nox's summary, stopping the broker) {rest:.2f} s. The wall: {warm.wall:.1f} s.",
    ]
    return rows


def _busy_cores(interval: float) -> float:
    """How many cores were busy (in any process) over the next `interval` seconds."""

    def ticks() -> tuple[int, int]:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle and iowait
        return sum(fields) - idle, sum(fields)

    try:
        busy_before, total_before = ticks()
        time.sleep(interval)
        busy_after, total_after = ticks()
    except OSError:  # not Linux: no way to tell, so do not wait
        return 0.0
    cores = os.cpu_count() or 1
    return cores * (busy_after - busy_before) / max(1, total_after - total_before)


def _ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def _machine(load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "pact-python",
            "pact-python-ffi",
            "flask",
            "werkzeug",
            "fastapi",
            "hypercorn",
            "django",
            "httpx",
            "nox",
        )
    )
    uv = shutil.which("uv")
    uv_version = "not found"
    if uv:
        uv_version = subprocess.run(
            [uv, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    before, after = load
    return (
        f"Machine: {os.cpu_count()} cores, {memory}, {cpu}; {platform.system()} "
        f"{platform.release()}. Load average (1, 5, 15 min) at the start "
        f"{', '.join(f'{value:.2f}' for value in before)}, at the end "
        f"{', '.join(f'{value:.2f}' for value in after)}.\n\n"
        f"Versions: Python {platform.python_version()} (the cells: every Python of the "
        f"matrix), {versions}, {uv_version}."
    )


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def write(path: Path, section: str) -> None:
    """Replace the text between the markers in `path` (or add it at the end)."""
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n"
    if START_MARKER in text and END_MARKER in text:
        head, _, rest = text.partition(START_MARKER)
        _, _, tail = rest.partition(END_MARKER)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "BENCHMARKS.md")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per measurement")
    parser.add_argument("--interactions", type=int, default=500, help="in the generated pact")
    parser.add_argument("--broker-versions", type=int, default=10_000)
    parser.add_argument(
        "--baseline", metavar="REV", help="also time the matrix of this git revision (before)"
    )
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="parts to leave out")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each timing round, for other processes to go quiet",
    )
    arguments = parser.parse_args(argv)
    load_before = os.getloadavg()
    command = "nox -s bench" + (f" -- {' '.join(sys.argv[1:])}" if sys.argv[1:] else "")
    with tempfile.TemporaryDirectory(prefix="pact-matrix-bench-") as directory:
        bench = Bench(arguments, Path(directory))
        parts: dict[str, Callable[[], None]] = {
            "throughput": bench.throughput,
            "lifecycle": bench.lifecycle,
            "broker": bench.broker,
            "matrix": lambda: bench.matrix(virtualenv="virtualenv" not in arguments.skip),
            "failures": bench.failures,
            "pactgen": bench.pactgen,
        }
        for name, part in parts.items():
            if name not in arguments.skip:
                part()
        section = bench.markdown(command, (load_before, os.getloadavg()))
    print(section)
    write(arguments.output, section)
    print(f"\nwrote {arguments.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
