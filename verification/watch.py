"""`python -m verification watch FRAMEWORK`: verify one framework again after every change of
the checkout's code, until Ctrl-C (`nox -s watch -- FRAMEWORK` sets it up).

Each verification is a cell's own process (`python -m verification cell FRAMEWORK`), started
afresh, so it runs the code as it is when the change comes and answers as that cell of
`nox -s verify` would. The process is started ahead, while the code is being edited: it
imports what the previous verification imported from outside the checkout (pact, the
framework, their dependencies: the cell's floor) and waits to be told to go. After a change
only the checkout's own modules are left to import, so the answer comes in about the time the
verification itself takes.

Nothing is published and no run's verdict sees these results: they go to a folder of the
watch's own, removed when it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from matrix import PROJECT_ROOT

# How long a change must be followed by no other before it is verified (watchfiles' `step`):
# an editor's save is a few writes and a rename within a millisecond or two.
QUIET_MS = 30
# How often the watch wakes when nothing changes (the first time: it is ready).
IDLE_MS = 100

# The waiting process, run with `python -c` so that it has imported nothing of the checkout
# when the change comes. Ctrl-C while it waits (the watch passes it on) ends it quietly.
_WAITING_CELL = """
import importlib, json, os, sys
framework, imported = sys.argv[1:]
try:
    if os.path.exists(imported):
        with open(imported, encoding="utf-8") as file:
            ahead = json.load(file)["outside"]
        for name in ahead:
            try:
                importlib.import_module(name)
            except Exception:  # it needs what only the cell sets up: imported then, in place
                pass
    if sys.stdin.readline() == "go\\n":
        from verification.watch import verify_now
        verify_now(framework, imported)
except KeyboardInterrupt:
    sys.exit(130)
"""


def watch(framework: str, paths: Sequence[Path] = ()) -> int:
    """Verify `framework` now, then after every change of `paths` (default: the folders of the
    checkout's code the cell runs); returns 130 when Ctrl-C (or SIGTERM) ends it."""
    import watchfiles

    # SIGINT too: a watch started in a shell's background inherits it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    parent_ended = _ParentEnded()
    with tempfile.TemporaryDirectory(prefix="pact-matrix-watch-") as scratch:
        imported = Path(scratch, "imported.json")
        env = {**os.environ, "PACT_RESULTS_DIR": str(Path(scratch, "results"))}
        cell = _start(framework, imported, env)
        try:
            if _verify(cell) == 2:  # the settings are wrong: no change of the code helps
                return 2
            watched = list(paths) or _checkout_folders(imported)
            cell = _start(framework, imported, env)
            watching = False
            for changes in watchfiles.watch(
                *watched,
                watch_filter=watchfiles.PythonFilter(),
                step=QUIET_MS,
                stop_event=parent_ended,
                # An empty yield when nothing changed for that long: the first says that the
                # watcher is in place, so that no change made after the line below is missed.
                rust_timeout=IDLE_MS,
                yield_on_timeout=True,
            ):
                if not watching:
                    watching = True
                    print(
                        f"Watching {', '.join(_shown(path) for path in watched)}: {framework}"
                        " is verified again after each change (Ctrl-C to stop)",
                        flush=True,
                    )
                if not changes:
                    continue
                seen = time.perf_counter()
                names = sorted({_shown(Path(path)) for _, path in changes})
                print(f"\nChanged: {', '.join(names)}", flush=True)
                code = _verify(cell)
                print(f"(answered {time.perf_counter() - seen:.2f} s after the change)", flush=True)
                if code == 2:
                    return 2
                cell = _start(framework, imported, env)
        except KeyboardInterrupt:
            # Once only: a SIGTERM from nox (when this takes longer than its interrupt_timeout)
            # must not cut the clean-up short.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            if cell.poll() is None:
                cell.send_signal(signal.SIGINT)  # a verifying cell stops its provider first
            return 130
        finally:
            _stop(cell)
    return 0  # nox, which started it, has ended: so has its broker


class _ParentEnded:
    """Set once the process that started this one has ended (nox, killed outright): the watch
    then ends too, instead of verifying on against a broker that has gone with it."""

    def __init__(self) -> None:
        self.parent = os.getppid()

    def is_set(self) -> bool:
        return os.getppid() != self.parent


def verify_now(framework: str, imported: str) -> None:
    """In the waiting process, once told to go: be the cell, note what it imported from
    outside the checkout (for the next one to import ahead), and end as a cell ends."""
    from verification.__main__ import exit_now, main

    code = main(["cell", framework])
    Path(imported).write_text(json.dumps(_imported_modules(sys.modules.items())), "utf-8")
    exit_now(code)


def _start(framework: str, imported: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WAITING_CELL, framework, str(imported)],
        stdin=subprocess.PIPE,
        env=env,
        cwd=PROJECT_ROOT,
        # Out of the terminal's process group: Ctrl-C reaches it once, from the watch.
        start_new_session=True,
    )


def _verify(cell: subprocess.Popen[bytes]) -> int:
    assert cell.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it ended while waiting: its code says why
        cell.stdin.write(b"go\n")
        cell.stdin.close()
    return cell.wait()


def _stop(cell: subprocess.Popen[bytes]) -> None:
    """A cell still waiting ends at the end of its input; one verifying (or stopping after
    Ctrl-C) is waited for."""
    if cell.stdin is not None and not cell.stdin.closed:
        cell.stdin.close()
    cell.wait()


def _imported_modules(modules: Iterable[tuple[str, object]]) -> dict[str, list[str]]:
    """The modules a cell imported, in import order: from outside the checkout, by name (the
    standard library, the venv's packages), and from the checkout, by file."""
    venv = Path(sys.prefix).resolve()
    outside, checkout = [], []
    for name, module in list(modules):
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if not origin or origin in ("built-in", "frozen"):  # nothing to import ahead
            continue
        path = Path(origin).resolve()
        if path.is_relative_to(PROJECT_ROOT) and not path.is_relative_to(venv):
            checkout.append(str(path))
        else:
            outside.append(name)
    return {"outside": outside, "checkout": checkout}


def _checkout_folders(imported: Path) -> list[Path]:
    """The top-level folders (or files) of the checkout's code the last cell imported."""
    if not imported.exists():  # the cell failed before it got that far: every package
        project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))
        packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        return [PROJECT_ROOT / package for package in packages]
    files = json.loads(imported.read_text("utf-8"))["checkout"]
    return sorted({PROJECT_ROOT / Path(file).relative_to(PROJECT_ROOT).parts[0] for file in files})


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
