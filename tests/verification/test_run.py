"""The run's machinery (verification/run.py): which results make a run, whose verdict may be
published, and what a stopped or parallel run leaves behind."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from matrix import ALL_CELLS, LEFT_OUT, PROJECT_ROOT
from verification import run
from verification.run import CellRecord, Run, RunError, VerdictSummary


class Failed(Exception):
    pass


def fail(message: str) -> NoReturn:
    raise Failed(message)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def a_run(runs: Path, name: str, cells: tuple[str, ...] = ALL_CELLS) -> Run:
    made = Run.named(name, runs)
    for cell in cells:
        with made.cell(cell, fail):
            pass
    made.end()
    return made


WORKER = """
import os, sys
from verification import run
print(run.Run.current(parallel=True, environ={}).id, os.getppid())
"""


def test_a_nox_and_its_parallel_workers_derive_one_run_and_no_other_nox_shares_it() -> None:
    mine = Run.current(parallel=False, environ={})
    # A `nox --parallel` worker is a nox its owner started: it derives its owner's run.
    worker = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, env={**os.environ, run.RUN_VARIABLE: ""},
    )  # fmt: skip
    assert worker.stdout.split() == [mine.id, str(os.getpid())]
    assert mine.id.endswith(f"-{os.getpid()}")
    assert Run.current(parallel=False, environ={}) == mine  # the same every time
    # Another nox (another process) runs another run.
    assert Run.current(parallel=True, environ={}) != mine
    assert Run.current(False, {run.RUN_VARIABLE: "ci-42"}).id == "ci-42"  # CI names the run


def test_only_a_nox_that_is_its_whole_run_judges_it_after_its_cells() -> None:
    assert run.judges_itself(parallel=False, environ={})
    # A CI job is one cell of the workflow's run, which the final job judges.
    assert not run.judges_itself(parallel=False, environ={run.RUN_VARIABLE: "ci-42"})
    assert not run.judges_itself(parallel=True, environ={})  # nox cannot notify from a worker


def test_a_run_that_started_every_cell_is_whole(runs: Path) -> None:
    whole = a_run(runs, "whole")
    partial = a_run(runs, "partial", ALL_CELLS[:2])

    assert whole.is_whole()
    assert whole.why_no_verdict() is None
    assert partial.missing() == list(ALL_CELLS[2:])


def test_part_of_the_matrix_gives_no_verdict_and_says_what_to_run(runs: Path) -> None:
    partial = a_run(runs, "partial", ALL_CELLS[-3:])

    problem = partial.why_no_verdict()

    assert problem is not None
    assert "part of the matrix" in problem
    assert "nothing was published" in problem
    assert ", ".join(ALL_CELLS[:-3]) in problem
    assert "`nox -s verify`" in problem
    # CI attempted every cell as a job of its own: a missing one failed, it was not left out.
    assert partial.why_no_verdict(whole=True) is None


def test_a_filtered_cell_gives_no_verdict(runs: Path) -> None:
    filtered = a_run(runs, "filtered")
    cell = ALL_CELLS[0]
    (filtered.folder / f"{cell}.json").write_text(
        json.dumps({"filtered": True, "interactions": [], "pacts": [], "error": None})
    )

    problem = filtered.why_no_verdict()

    assert problem is not None
    assert cell in problem
    assert "filter" in problem


def test_readers_read_the_latest_whole_run_never_a_later_partial_one(runs: Path) -> None:
    a_run(runs, "1-older-whole")
    newest_whole = a_run(runs, "2-newest-whole")
    time.sleep(0.01)  # runs are ordered by when they last changed
    a_run(runs, "3-partial", ALL_CELLS[:1])

    assert run.chosen(False, {}, runs) == newest_whole
    # This nox's own run, or the one CI names, once its cells have started.
    assert run.chosen(False, {run.RUN_VARIABLE: "3-partial"}, runs).id == "3-partial"


def test_with_no_whole_run_readers_say_what_is_missing(runs: Path) -> None:
    a_run(runs, "partial", ALL_CELLS[:1])

    with pytest.raises(RunError, match="no whole run") as refused:
        run.chosen(False, {}, runs)

    assert "the newest, partial, ran 1 of" in str(refused.value)


def test_a_run_still_going_is_not_read(runs: Path) -> None:
    going = Run.current(False, {run.RUN_VARIABLE: "going"}, runs)
    for cell in ALL_CELLS:
        going.start_cell(cell)

    assert going.in_progress()
    assert run.latest_whole(runs) is None


def test_two_runs_never_share_a_file(runs: Path) -> None:
    first, second = Run.named("first", runs), Run.named("second", runs)

    assert first.pact_dir != second.pact_dir
    assert first.folder != second.folder
    assert not first.pact_dir.is_relative_to(second.folder)


def test_an_interrupted_cell_abandons_its_run(runs: Path) -> None:
    interrupted = Run.named("interrupted", runs)

    with pytest.raises(KeyboardInterrupt), interrupted.cell(ALL_CELLS[0], fail):
        raise KeyboardInterrupt

    assert not interrupted.folder.exists()


def test_a_cell_records_how_it_ended(runs: Path) -> None:
    recorded = Run.named("recorded", runs)
    with pytest.raises(Failed), recorded.cell(ALL_CELLS[0], fail):
        fail("the provider died")
    with recorded.cell(ALL_CELLS[1], fail):
        pass

    records = recorded.records()
    assert records[ALL_CELLS[0]].outcome == "failed"
    assert records[ALL_CELLS[1]].outcome == "passed"
    assert records[ALL_CELLS[1]].seconds is not None


def test_a_failure_every_cell_would_meet_stops_the_cells_after_the_first(runs: Path) -> None:
    stopped = Run.named("stopped", runs)
    first, second = ALL_CELLS[:2]
    unreadable = {
        "interactions": [], "pacts": [], "error": "cannot fetch PACT_URL ...", "stops_run": True
    }  # fmt: skip

    def the_first_cell() -> None:
        with stopped.cell(first, fail):
            (stopped.folder / f"{first}.json").write_text(json.dumps(unreadable))
            fail("pytest failed")

    with pytest.raises(Failed):
        the_first_cell()

    with pytest.raises(Failed) as refused, stopped.cell(second, fail):
        pytest.fail("the second cell must not run")

    assert str(refused.value) == (
        f"not run: a failure every cell would meet: {first}: cannot fetch PACT_URL ..."
    )
    assert stopped.first_cell() == first


def test_the_summary_never_says_verified_for_a_verdict_that_was_not_published(
    runs: Path,
) -> None:
    refused = a_run(runs, "refused")
    VerdictSummary(
        success=True,
        pacts=("UserConsumer pact 1234abcd: verified, 9 of 9 cells passed",),
        not_published="publishing the verdict to http://broker failed: 403.",
    ).write(refused.verdict_file)

    last = run.summary(refused).splitlines()
    verdict_line = next(line for line in last if line.startswith("Verdict:"))

    assert verdict_line == (
        "Verdict: verified, but NOT published: publishing the verdict to http://broker failed: 403."
    )


def test_the_summary_of_a_partial_run_says_nothing_was_published(runs: Path) -> None:
    partial = a_run(runs, "partial", ALL_CELLS[:1])

    text = run.summary(partial)

    assert f"| {ALL_CELLS[0]} | passed |" in text
    for cell, why in LEFT_OUT.items():  # a combination the matrix leaves out says why
        assert f"| {cell} | left out: {why} | - | - |" in text
    assert text.splitlines()[-1].startswith(
        f"run partial is part of the matrix (1 of {len(ALL_CELLS)}"
    )


def test_a_missing_python_is_named_with_how_to_install_it() -> None:
    # No supported Python is ever called 3.1: it stands for one this machine lacks.
    told = run._missing_pythons(["verify-3.1(flask)"])

    assert "Python 3.1" in told
    assert "pyenv install 3.1" in told
    assert "uv python install 3.1" in told


def test_a_python_a_virtualenv_was_made_with_counts_while_its_interpreter_is_there(
    tmp_path: Path,
) -> None:
    # No `python3.1` runs here: only the virtualenvs' record of it can make it count.
    home = tmp_path / "pythons" / "3.1.4" / "bin"
    home.mkdir(parents=True)
    (home / "python3.1").touch()
    for venv, python in (("verify-3-1-flask", home), ("verify-3-0-flask", tmp_path / "gone")):
        (tmp_path / "envs" / venv).mkdir(parents=True)
        version = "3.1.4" if "3-1" in venv else "3.0.1"
        (tmp_path / "envs" / venv / "pyvenv.cfg").write_text(
            f"home = {python}\nimplementation = CPython\nversion_info = {version}\n"
        )

    found = run._pythons_that_run(("3.0", "3.1"), tmp_path / "envs")

    assert found == {"3.1"}  # 3.0's interpreter is gone: asked, and it does not run


def test_records_survive_a_reader_in_another_process(runs: Path) -> None:
    written = a_run(runs, "written", ALL_CELLS[:1])
    read = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.load(open(sys.argv[1]))['outcome'])",
         str(written.state / "cells" / f"{ALL_CELLS[0]}.json")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert read.stdout.strip() == "passed"
    assert CellRecord(**json.loads((written.state / "cells" / f"{ALL_CELLS[0]}.json").read_text()))


def test_the_embedded_broker_stops_when_its_run_s_owner_dies(runs: Path, tmp_path: Path) -> None:
    # The owner: a process that ends without stopping anything, as a killed nox.
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owned = Run(id="owned", folder=runs / "owned", owner_pid=owner.pid)
        owned.start_cell(ALL_CELLS[0])
        url = owned.embedded_broker(sys.executable, tmp_path / "pact_broker.sqlite")
        broker = int((owned.state / "broker.pid").read_text())
        # Its address is known before it is ready: the first request waits for it.
        assert httpx.get(url, timeout=30).json()["_links"]["pb:pacticipants"]
        assert run._alive(broker)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 10
    while run._alive(broker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run._alive(broker)


def test_a_run_that_ends_lets_its_broker_exit_by_itself(runs: Path, tmp_path: Path) -> None:
    ended = Run(id="ended", folder=runs / "ended", owner_pid=os.getpid())
    ended.start_cell(ALL_CELLS[0])
    url = ended.embedded_broker(sys.executable, tmp_path / "pact_broker.sqlite")
    assert httpx.get(url, timeout=30).status_code == 200
    broker = int((ended.state / "broker.pid").read_text())

    ended.end()

    # Not waited for, never killed: it shuts down on SIGTERM and exits 0.
    _, status = os.waitpid(broker, 0)
    assert os.WIFEXITED(status), status
    assert os.WEXITSTATUS(status) == 0


CLAIM_VIRTUALENVS = """
import sys
import threading
from pathlib import Path
from verification import run
chosen = Path(run.Virtualenvs(sys.argv[1]))
(chosen / "made-here").parent.mkdir(parents=True, exist_ok=True)
(chosen / "made-here").touch()
print(chosen, flush=True)
sys.stdin.read()  # holds the folder until the test closes stdin
"""


def claim_virtualenvs(default: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLAIM_VIRTUALENVS, str(default)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_nox_in_one_checkout_keeps_virtualenvs_of_its_own(tmp_path: Path) -> None:
    """Two noxes syncing one virtualenv at once broke each other's cells: the second one says
    whose .nox it found in use and makes its own virtualenvs, gone when it ends."""
    default = tmp_path / ".nox"
    first = claim_virtualenvs(default)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == str(default)
    second = claim_virtualenvs(default)
    output, errors = second.communicate("", timeout=60)
    own = Path(output.strip())
    assert own == default / "alongside" / str(second.pid)
    assert f"another nox (pid {first.pid}) is using {default}" in errors
    assert not own.exists()  # removed when the second nox ended
    first.communicate("", timeout=60)

    third = claim_virtualenvs(default)  # the first has ended: .nox is free again
    assert third.communicate("", timeout=60)[0].strip() == str(default)


def test_virtualenvs_of_a_killed_nox_are_removed_by_the_next(tmp_path: Path) -> None:
    default = tmp_path / ".nox"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    left = default / "alongside" / ended.stdout.strip()
    left.mkdir(parents=True)
    run.Virtualenvs(default)
    assert left.exists()  # nothing is done until nox reads the option
    claim_virtualenvs(default).communicate("", timeout=60)
    assert not left.exists()


def test_cells_that_start_at_once_agree_on_the_first_and_write_whole_records(runs: Path) -> None:
    """Under `nox --parallel` cells start together: each record is written whole, and exactly
    one cell is the run's first (a race once failed a cell on a half-renamed owner record)."""
    started = Run(id="together", folder=runs / "together", owner_pid=os.getpid())
    barrier = threading.Barrier(len(ALL_CELLS))

    def start(cell: str) -> None:
        barrier.wait()
        started.start_cell(cell)

    threads = [threading.Thread(target=start, args=(cell,)) for cell in ALL_CELLS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert started.first_cell() in ALL_CELLS
    assert set(started.records()) == set(ALL_CELLS)
    assert not [path for path in started.state.rglob(".*") if path.is_file()]  # no partials


def test_no_verdict_is_drawn_while_a_cell_of_the_run_is_still_running(runs: Path) -> None:
    """`nox -s verify verdict --parallel 2 --allow-parallel` let nox start the verdict beside
    the last cell, which it then published as a cell with no result: a failed version."""
    going = Run(id="going", folder=runs / "going", owner_pid=os.getpid())
    for cell in ALL_CELLS[:-1]:
        with going.cell(cell, fail):
            pass
    going.start_cell(ALL_CELLS[-1])  # started, not ended

    problem = going.why_no_verdict()

    assert problem is not None
    assert f"{ALL_CELLS[-1]} still running" in problem
    assert "nothing was published" in problem
    with going.cell(ALL_CELLS[-1], fail):
        pass
    assert going.why_no_verdict() is None


def test_the_first_cell_writes_the_run_s_pacts_and_the_others_verify_the_same(runs: Path) -> None:
    shared = Run.named("shared", runs)
    written: list[Path] = []

    def consumer_tests(folder: Path) -> None:
        time.sleep(0.2)  # cells that start meanwhile wait for the pacts, not for a turn
        folder.mkdir(parents=True)
        (folder / "UserConsumer-UserProvider.json").write_text("{}")
        written.append(folder)

    hows: list[str | None] = []
    cells = [
        threading.Thread(target=lambda: hows.append(shared.write_pacts_once(consumer_tests)))
        for _ in range(3)
    ]
    for cell in cells:
        cell.start()
    for cell in cells:
        cell.join()

    assert written == [shared.pact_dir]
    assert sorted(hows, key=str) == [None, None, "written"]
    assert [p.name for p in shared.pact_dir.iterdir()] == ["UserConsumer-UserProvider.json"]


def test_pacts_kept_for_a_tree_serve_its_next_run_without_the_consumer_tests(
    runs: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept" / "tree"

    def consumer_tests(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "pact.json").write_text('{"written": "once"}')

    def never(folder: Path) -> None:
        raise AssertionError("the consumer tests ran for a tree whose pacts are kept")

    assert Run.named("first", runs).write_pacts_once(consumer_tests, kept=kept) == "written"
    second = Run.named("second", runs)
    assert second.write_pacts_once(never, kept=kept) == "kept"
    assert (second.pact_dir / "pact.json").read_text() == '{"written": "once"}'


def test_kept_pacts_are_named_by_what_the_consumer_tests_depend_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    for name in ("consumer/client.py", "tests/consumer/test_user_client.py", "uv.lock"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(name)
    monkeypatch.setattr(run, "PROJECT_ROOT", project)
    monkeypatch.setattr(run, "CONSUMER_INPUTS", ("consumer", "tests/consumer", "uv.lock"))
    kept = tmp_path / "kept"
    named = run.kept_pacts(kept, environ={})

    assert run.kept_pacts(kept, environ={}) == named
    assert run.kept_pacts(kept, environ={"PACT_SPECIFICATION": "V3"}) != named
    (project / "providers.py").write_text("an edit of the provider")
    assert run.kept_pacts(kept, environ={}) == named
    (project / "consumer" / "client.py").write_text("an edit of the consumer")
    assert run.kept_pacts(kept, environ={}) != named


def test_the_consumer_tests_import_nothing_of_the_project_s_that_names_kept_pacts_leave_out() -> (
    None
):
    projects = {path.parent.name for path in PROJECT_ROOT.glob("*/__init__.py")}
    imported = set()
    for name in ("consumer", "tests/consumer"):
        for source in (PROJECT_ROOT / name).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text("utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
                elif isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
    inputs = {name.split("/")[0] for name in run.CONSUMER_INPUTS}

    assert imported & projects <= inputs, "add what they import to run.CONSUMER_INPUTS"


def test_only_the_newest_trees_keep_their_pacts(tmp_path: Path) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    (pacts / "pact.json").write_text("{}")
    for tree in range(run.KEPT_PACTS + 2):
        run._keep(pacts, tmp_path / "kept" / f"tree-{tree}")
        os.utime(tmp_path / "kept" / f"tree-{tree}", (tree, tree))

    kept = sorted(path.name for path in (tmp_path / "kept").iterdir())
    assert len(kept) == run.KEPT_PACTS
    assert "tree-0" not in kept
    assert f"tree-{run.KEPT_PACTS + 1}" in kept
