"""Item 6: generating the benchmark's pact of N interactions (see `benchmarks.pactgen`)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.pactgen import write_pact


def measure(interactions: int, repeats: int) -> dict[str, Any]:
    seconds: list[float] = []
    written = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            path = write_pact(Path(workdir), interactions)
            seconds.append(time.perf_counter() - started)
            written = len(json.loads(path.read_text("utf-8"))["interactions"])
    return {"seconds": seconds, "interactions": written}
