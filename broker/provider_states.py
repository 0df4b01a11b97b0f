"""The provider states a provider's pacts use, as pact_broker's `ProviderStatesDecorator` lists
them: one entry per (name, params) with the consumers that use it, sorted by name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable


def _states_of(content: str) -> list[dict[str, Any]]:
    """Each interaction's states: V3/V4 `providerStates` or the V1/V2 `providerState`."""
    document: dict[str, Any] = json.loads(content)
    states: list[dict[str, Any]] = []
    for key in ("interactions", "messages"):
        items = document.get(key)
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("providerStates"), list):
                states += [
                    {"name": str(state.get("name", "")), "params": state.get("params")}
                    for state in item["providerStates"]
                    if isinstance(state, dict)
                ]
            elif isinstance(item.get("providerState"), str):
                states.append({"name": item["providerState"], "params": None})
    return states


def provider_states(pacts: Iterable[sqlite3.Row]) -> dict[str, Any]:
    consumers: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
    for pact in pacts:
        for state in _states_of(pact["content"]):
            key = (state["name"], json.dumps(state["params"], sort_keys=True))
            entry = consumers.setdefault(key, (state, []))
            if pact["consumer_name"] not in entry[1]:
                entry[1].append(pact["consumer_name"])
    listed = []
    for state, names in sorted(consumers.values(), key=lambda entry: entry[0]["name"]):
        shown: dict[str, Any] = {"name": state["name"]}
        # The real decorator leaves out a nil property: no `params` key for a state without.
        if state["params"] is not None:
            shown["params"] = state["params"]
        shown["consumers"] = names
        listed.append(shown)
    return {"providerStates": listed}
