"""One verification cell whose provider hangs, for the Ctrl-C test to interrupt.

Not collected with the suite (its name does not start with `test_`): the test runs it as a
cell runs, in a pytest process of its own against the embedded broker (in that process), and
sends SIGINT to the process group, as a terminal's Ctrl-C does, once the provider hangs.

    CELL_FRAMEWORK=flask python -m pytest tests/reliability/cell_to_interrupt.py -s
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.reliability.faulty import HangingStore
from verification.cell import Cell, run
from verification.embedded import broker_for
from verification.settings import Settings


def test_a_cell_whose_provider_hangs(tmp_path: Path) -> None:
    settings = Settings.from_env()
    with broker_for(settings, tmp_path) as endpoint, HangingStore() as store:
        run(Cell(os.environ["CELL_FRAMEWORK"]), settings, endpoint, store=store)
