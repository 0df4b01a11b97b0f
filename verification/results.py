"""What one matrix cell verified, interaction by interaction, as JSON other tools can read.

Each `verify` cell writes one `CellResult` to `results/<cell>.json`, named after its nox
session (`results/verify-3.12(flask).json`). The crosscheck compares
cells with it, the report renders it, and CI uploads it; the verifier's structured results
(`Verifier.results`) are the source, never its console text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from matrix import PROJECT_ROOT

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class InteractionOutcome:
    consumer: str
    description: str
    states: tuple[str, ...]
    success: bool
    pending: bool = False
    # One line per problem: a mismatch ("body $.id: Expected 'x' to be equal to 1") or
    # an error that stopped the interaction (a failed state change, a refused connection).
    mismatches: tuple[str, ...] = ()
    duration_ms: int | None = None
    # The broker's `_id` of the interaction: which pact it belongs to, for the verdict.
    interaction_id: str | None = None

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """What identifies the interaction across cells that verified the same pacts."""
        return (self.consumer, self.description, self.states)

    @property
    def name(self) -> str:
        given = f" given {' and '.join(self.states)}" if self.states else ""
        return f"{self.consumer}: {self.description}{given}"


@dataclass(frozen=True)
class PactRef:
    """One pact the broker selected for the cell."""

    consumer: str
    url: str
    pending: bool = False
    wip: bool = False
    # The broker's `_id` of every interaction in the pact: what a cell must have verified.
    interaction_ids: tuple[str, ...] = ()
    # The consumer version the pact belongs to, when the broker says (PACT_URL mode shows it).
    consumer_version: str | None = None
    # Why the broker selected it, as the verifier prints before verifying. Left out of
    # comparisons: it says how the pact was chosen, not what it is.
    notices: tuple[str, ...] = field(default=(), compare=False)

    @property
    def short_sha(self) -> str:
        """The first 8 characters of the content's SHA, as pacts are named in summaries."""
        return self.content.rsplit("@", 1)[-1][:8]

    @property
    def content(self) -> str:
        """The pact's identity wherever its broker runs: the consumer and the content's SHA.

        Every embedded broker has its own port, so cells that verified the same pact have
        different URLs; the broker names the content in the path (`/pact-version/<sha>`).
        """
        sha = re.search(r"/pact-version/([0-9a-fA-F]+)", self.url)
        return f"{self.consumer}@{sha.group(1)}" if sha else urlsplit(self.url).path


@dataclass(frozen=True)
class CellResult:
    cell: str
    framework: str
    python: str
    provider: str
    provider_version: str
    provider_branch: str | None
    broker: str
    success: bool
    seconds: float
    interactions: tuple[InteractionOutcome, ...] = ()
    pacts: tuple[PactRef, ...] = ()
    # The `nox` run (or CI workflow run) the cell was part of: the verdict counts only the
    # cells of one run, never a leftover result of an earlier one.
    run: str | None = None
    # Set when the verifier was told to check only some interactions (PACT_DESCRIPTION ...):
    # such a cell verified part of the pacts, and no verdict may be drawn from it.
    filtered: bool = False
    # Why the cell failed when no interaction says so (no pacts, broker down, ...).
    error: str | None = None
    # PACT_URL (credentials masked) when the cell was told which one pact to verify (a
    # webhook-triggered build); None when the broker's selectors chose the pacts.
    pact_url: str | None = None
    # The failure is one every cell of the run would meet (an unreadable PACT_URL, states the
    # vocabulary lacks): the run starts no other cell.
    stops_run: bool = False
    report: str = ""
    schema: int = field(default=SCHEMA_VERSION)

    @property
    def verified(self) -> int:
        return len(self.interactions)

    @property
    def failed(self) -> tuple[InteractionOutcome, ...]:
        return tuple(i for i in self.interactions if not i.success)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CellResult:
        data: dict[str, Any] = json.loads(text)
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"unsupported result schema {data.get('schema')!r}")
        data["interactions"] = tuple(
            InteractionOutcome(
                **{**item, "states": tuple(item["states"]), "mismatches": tuple(item["mismatches"])}
            )
            for item in data["interactions"]
        )
        data["pacts"] = tuple(
            PactRef(
                **{
                    **item,
                    "interaction_ids": tuple(item["interaction_ids"]),
                    "notices": tuple(item.get("notices", ())),
                }
            )
            for item in data["pacts"]
        )
        return cls(**data)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.cell}.json"
        # Write then rename: a reader (the crosscheck, a CI upload) never sees half a file.
        partial = path.with_suffix(".json.partial")
        partial.write_text(self.to_json(), encoding="utf-8")
        partial.replace(path)
        return path


def results_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the cells write their results: `PACT_RESULTS_DIR`, else `results/`."""
    return Path(environ.get("PACT_RESULTS_DIR") or PROJECT_ROOT / "results")


def load_results(directory: Path) -> list[CellResult]:
    return [CellResult.from_json(p.read_text("utf-8")) for p in sorted(directory.glob("*.json"))]
