"""Where the verifier's own thread spends its CPU: `perf` over one cell on a generated pact.

    python -m benchmarks.verifier_profile [--interactions 2000] [--framework django] [--unsliced]

The cell runs as in the throughput bench (`benchmarks.worker verify`), under `perf record`.
libpact_ffi is stripped, so perf names no function inside it: what it shows is each
library's share of the verifier thread's samples and the C library's functions by name,
which is where a Rust program's allocations and copies land. The verifier thread is the one
with the most samples inside libpact_ffi.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import median
from matrix import FRAMEWORKS, PROJECT_ROOT

SAMPLES_PER_SECOND = 499
FFI_LIBRARY = "libpact_ffi"
# `perf script -F tid,ip,sym,dso`: "  1273      7f0316f096e5 malloc (/usr/lib/.../libc.so.6)"
SAMPLE = re.compile(r"\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


@dataclass(frozen=True)
class ThreadProfile:
    samples: int
    libraries: dict[str, int]
    libc_functions: dict[str, int]

    def share(self, count: int) -> str:
        return f"{count / self.samples:.1%}"


def verifier_thread(perf_script_lines: Iterable[str]) -> ThreadProfile:
    """The samples of the thread that ran libpact_ffi the most, by library and libc function."""
    samples: list[tuple[str, str, str]] = []
    for line in perf_script_lines:
        match = SAMPLE.match(line)
        if match:
            thread, symbol, path = match.groups()
            samples.append((thread, symbol, path.rsplit("/", 1)[-1]))
    in_ffi = collections.Counter(t for t, _, lib in samples if lib.startswith(FFI_LIBRARY))
    if not in_ffi:
        raise RuntimeError("no sample inside libpact_ffi: did the verifier run?")
    (thread, _), *_ = in_ffi.most_common(1)
    mine = [(symbol, lib) for t, symbol, lib in samples if t == thread]
    return ThreadProfile(
        samples=len(mine),
        libraries=dict(collections.Counter(lib for _, lib in mine).most_common()),
        libc_functions=dict(
            collections.Counter(s for s, lib in mine if lib.startswith("libc.")).most_common()
        ),
    )


def record(framework: str, interactions: int, *, sliced: bool, directory: Path) -> list[str]:
    """Run the cell under `perf record`; the lines of `perf script` and the worker's result."""
    data, out = directory / "perf.data", directory / "result.json"
    kwargs = {"framework": framework, "interactions": interactions, "repeats": 1}
    kwargs |= {"ca_fix": True, "quiet_ffi": True, "sliced": sliced}
    worker = [sys.executable, "-m", "benchmarks.worker", str(out), "verify", json.dumps(kwargs)]
    subprocess.run(
        ["perf", "record", "-F", str(SAMPLES_PER_SECOND), "-o", str(data), "--", *worker],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    result = json.loads(out.read_text("utf-8"))
    print(
        f"{framework}, {interactions} interactions, {'sliced' if sliced else 'unsliced'}: "
        f"{interactions / median(result['seconds']):.0f} ips, verifier thread "
        f"{median(result['verifier_cpu']) / interactions * 1000:.2f} ms CPU per interaction"
    )
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "tid,ip,sym,dso", "-G"],
        capture_output=True,
        text=True,
        check=True,
    )
    return script.stdout.splitlines()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verifier_profile")
    parser.add_argument("--interactions", type=int, default=2000)
    parser.add_argument("--framework", choices=FRAMEWORKS, default=FRAMEWORKS[-1])
    parser.add_argument("--unsliced", action="store_true", help="verify the pact whole")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pact-matrix-profile-") as directory:
        lines = record(
            arguments.framework,
            arguments.interactions,
            sliced=not arguments.unsliced,
            directory=Path(directory),
        )
    profile = verifier_thread(lines)
    print(
        f"verifier thread: {profile.samples} samples at {SAMPLES_PER_SECOND} Hz "
        f"({profile.samples / SAMPLES_PER_SECOND / arguments.interactions * 1000:.2f} ms "
        "per interaction)"
    )
    for library, count in list(profile.libraries.items())[:5]:
        print(f"  {profile.share(count):>6} {library}")
    functions = list(profile.libc_functions.items())[:6]
    print("  libc: " + ", ".join(f"{name} {profile.share(count)}" for name, count in functions))


if __name__ == "__main__":
    main()
