"""One measurement in a fresh process: `python -m benchmarks.worker OUT.json NAME JSON-KWARGS`.

The result goes to OUT.json, not stdout, which the verifier fills with its report.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# As a cell does before its first Verifier (verification.cell does it on import); measurements
# of "before" undo it themselves.
import verification.cell  # noqa: F401


def _measurements() -> dict[str, Callable[..., dict[str, Any]]]:
    from benchmarks import brokertime, failures, lifecycle, pactgen_timing, throughput

    return {
        "verify": throughput.verify,
        "limit": throughput.limit,
        "lifecycle": lifecycle.measure,
        "brokertime": brokertime.measure,
        "failure": failures.measure,
        "pactgen": pactgen_timing.measure,
    }


def main(argv: list[str]) -> None:
    out, name, kwargs = Path(argv[0]), argv[1], json.loads(argv[2])
    logging.basicConfig(level=logging.WARNING)
    result = _measurements()[name](**kwargs)
    out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
