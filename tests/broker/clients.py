"""The real Pact Broker clients, run as the broker tests run them: output kept, no telemetry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

# Both are installed beside this interpreter, in the session's venv.
PACT = shutil.which("pact", path=str(Path(sys.executable).parent))
RUBY_CLIENT = Path(sys.executable).parent / "pact-broker"

_ENV = {**os.environ, "PACT_DO_NOT_TRACK": "true"}


def run_client(command: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a broker client; with `check`, a non-zero exit fails the test with its output."""
    result = subprocess.run(command, capture_output=True, text=True, env=_ENV, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result
