"""Item 6: generating the benchmark's pact of N interactions (see `benchmarks.pactgen`)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.pactgen import write_pact


def measure(interactions: int, repeats: int) -> dict[str, Any]:
    """Seconds to generate and write the pact, and the floor: writing the same JSON document
    (already in memory) to a file with the standard library."""
    seconds: list[float] = []
    floor: list[float] = []
    written = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            path = write_pact(Path(workdir), interactions)
            seconds.append(time.perf_counter() - started)
            document = json.loads(path.read_text("utf-8"))
            written = len(document["interactions"])
            started = time.perf_counter()
            Path(workdir, "copy.json").write_text(json.dumps(document, indent=2), "utf-8")
            floor.append(time.perf_counter() - started)
    return {"seconds": seconds, "floor": floor, "interactions": written}
