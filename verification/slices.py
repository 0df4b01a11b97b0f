"""Verify a large pact as several small pact documents, in the cell's one verifier run.

The Rust verifier's own CPU time per interaction grows with the size of the pact document
that holds the interaction: measured on django, about 1.6 ms plus 3-4 µs for every
interaction in the document (1.6 ms at 50 interactions, 3.2 ms at 500, 9.8 ms at 2,000), so a
pact's verification time grows with the square of its size. `Verifier.filter` does not help:
a filtered run still pays for the whole document. What does help is a smaller document. So a
pact of more than SLICE_SIZE interactions is fetched by the cell and written as slices: the
same document (consumer, provider, metadata) with at most SLICE_SIZE of its interactions
each, every interaction keeping the broker's `_id` that the verifier reports it by. Every
slice is a file source of the cell's one `Verifier`, so one run against the one provider
gives one set of results, in the pact's order, which the cell turns into its one
`CellResult`, exactly as for a pact the verifier fetched itself: the verdict sees the same
pacts (`PactRef`s from the broker's selection), the same interactions and the same outcomes.
A slice publishes nothing: a file source has nowhere to publish to, and no cell publishes.

The pact's pending status (pending or WIP) is something the verifier learns only from the
broker; in a slice it is carried by each interaction's own `pending` flag, which the
verifier treats alike (failures in `pendingErrors`, the run still passes). That flag is V4's:
when a pact needing slices is not V4, nothing is sliced and the verifier fetches every pact
from the broker, as it does for small pacts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from verification import broker_api
from verification.broker_api import BrokerEndpoint
from verification.results import PactRef

# The most interactions in one slice. Verifying a 2,000-interaction pact on django (verifier
# CPU per interaction): whole 9.8 ms; slices of 500: 3.2 ms, 200: 2.4 ms, 100: 1.9 ms,
# 50: 1.6 ms, 25: 1.6 ms, 10: 1.5 ms. Below 50 the slices gain nothing measurable, and the
# project's own pacts (6 interactions) are far below it: they are never sliced.
SLICE_SIZE = 50


def needed(pacts: Sequence[PactRef]) -> bool:
    """Whether any of the pacts is large enough to be verified in slices."""
    return any(len(pact.interaction_ids) > SLICE_SIZE for pact in pacts)


def slice_document(document: dict[str, Any], *, pending: bool) -> list[dict[str, Any]]:
    """The pact `document` as documents of at most SLICE_SIZE interactions each, in order;
    with `pending`, every interaction is marked pending, as the broker marks the pact."""
    interactions: list[dict[str, Any]] = list(document.get("interactions", []))
    if pending:
        interactions = [{**interaction, "pending": True} for interaction in interactions]
    # An empty pact is one empty slice, which the verifier loads and checks as it would the pact.
    starts = range(0, max(len(interactions), 1), SLICE_SIZE)
    return [{**document, "interactions": interactions[i : i + SLICE_SIZE]} for i in starts]


def is_v4(document: dict[str, Any]) -> bool:
    version = document.get("metadata", {}).get("pactSpecification", {}).get("version", "")
    return isinstance(version, str) and version.startswith("4")


@contextmanager
def sources(endpoint: BrokerEndpoint, pacts: Sequence[PactRef]) -> Iterator[list[Path] | None]:
    """The slice files to verify `pacts` from, for as long as the verifier runs; None when no
    pact needs slicing (or one cannot be sliced faithfully), and the verifier fetches them all
    from the broker itself. Every pact is then verified from files, not only the large ones:
    the verifier's broker source would fetch them all again."""
    if not needed(pacts):
        yield None
        return
    documents = [broker_api.pact_document(endpoint, pact.url) for pact in pacts]
    if not all(is_v4(document) for document in documents):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="pact-matrix-slices-") as directory:
        paths = []
        for number, (pact, document) in enumerate(zip(pacts, documents, strict=True)):
            pending = pact.pending or pact.wip
            for part, piece in enumerate(slice_document(document, pending=pending)):
                path = Path(directory, f"pact-{number:03}-slice-{part:04}.json")
                path.write_text(json.dumps(piece), encoding="utf-8")
                paths.append(path)
        yield paths
