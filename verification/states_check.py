"""Before any cell starts: the provider states the broker's pacts use that the vocabulary lacks.

The broker lists them (`GET /pacts/provider/{p}/provider-states`, as pact_broker does: the
latest pact of each consumer's main branch, or of one branch), so a missing state is named
once, with its consumers, in a second instead of in every cell's failed interactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from verification.broker_api import BrokerError, json_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from verification.broker_api import BrokerEndpoint


@dataclass(frozen=True)
class MissingState:
    name: str
    consumers: tuple[str, ...]


def missing_states(
    endpoint: BrokerEndpoint, provider: str, known: Iterable[str], branch: str | None = None
) -> list[MissingState] | None:
    """The states the provider's pacts use that `known` lacks; None when the broker has no
    provider-states endpoint (404: an older broker, or no such provider), so the caller skips
    the check. Raises BrokerError when the broker cannot be asked."""
    path = f"/pacts/provider/{quote(provider, safe='')}/provider-states"
    if branch is not None:
        path += f"/branch/{quote(branch, safe='')}"
    try:
        with endpoint.client() as client:
            response = client.get(path)
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot reach the Pact Broker at {endpoint.url}: {error}") from error
    if response.status_code == 404:
        return None
    listed = json_of(response).get("providerStates")
    if not isinstance(listed, list):
        raise BrokerError(f"{path} answered without a providerStates list")
    names = set(known)
    consumers: dict[str, list[str]] = {}
    for state in listed:
        if not isinstance(state, dict) or not isinstance(state.get("name"), str):
            raise BrokerError(f"{path} answered a provider state without a name: {state!r}")
        if state["name"] in names:
            continue
        # One entry per (name, params) on the broker: a state's consumers are their union.
        entry = consumers.setdefault(state["name"], [])
        for consumer in state.get("consumers") or []:
            if str(consumer) not in entry:
                entry.append(str(consumer))
    return [MissingState(name, tuple(found)) for name, found in sorted(consumers.items())]


def describe(provider: str, missing: Iterable[MissingState]) -> str:
    """The message a failed check prints: each state, who uses it, and where to add it."""
    lines = [
        f"The pacts of {provider} use provider states that states/vocabulary.py does not define:"
    ]
    lines += [
        f"  - {state.name!r}, used by {', '.join(state.consumers) or 'an unnamed consumer'}"
        for state in missing
    ]
    lines.append("Add each with @PROVIDER_STATES.state(...) in states/vocabulary.py.")
    return "\n".join(lines)
