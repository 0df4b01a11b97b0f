"""Pact documents: their content identity (sha) and the stable `_id`s of their interactions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from broker.errors import ValidationError

# The keys of a pact document that hold interactions (V4 and V3 HTTP) or messages (V3 message).
INTERACTION_KEYS = ("interactions", "messages")

_JSON_TYPES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _without_id(interaction: Any) -> Any:
    if isinstance(interaction, dict):
        return {key: value for key, value in interaction.items() if key != "_id"}
    return interaction


def specification_version(document: dict[str, Any]) -> str | None:
    """The document's pact specification version, wherever that version of the spec keeps it."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return None
    for key in ("pactSpecification", "pact-specification"):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get("version"), str):
            return str(section["version"])
    version = metadata.get("pactSpecificationVersion")
    return version if isinstance(version, str) else None


def check_interactions(document: dict[str, Any], field: str = "") -> None:
    """`ValidationError` unless the document's interactions and messages are lists of objects.

    Either may be absent, but one that is present must be a list of JSON objects: no verifier can
    read anything else, and the content sha and the `_id`s are computed from those objects. The
    errors name the fields, each prefixed with `field`.
    """
    errors: dict[str, list[str]] = {}
    for key in INTERACTION_KEYS:
        if key not in document:
            continue
        items = document[key]
        if not isinstance(items, list):
            errors[f"{field}{key}"] = [f"must be a list of JSON objects, not {_json_type(items)}"]
            continue
        wrong = [index for index, item in enumerate(items) if not isinstance(item, dict)]
        if wrong:
            message = f"must be a JSON object, not {_json_type(items[wrong[0]])}"
            errors[f"{field}{key}[{wrong[0]}]"] = [message]
    if errors:
        raise ValidationError(errors)


def _json_type(value: Any) -> str:
    return _JSON_TYPES[type(value)]


def content_sha(document: dict[str, Any]) -> str:
    """The identity of a pact's content, as the real broker computes it.

    Only the interactions, messages and specification version count (pact_broker
    `lib/pact_broker/pacts/generate_sha.rb`, `content.rb`): a metadata-only change (a newer pact
    library version) is the same content, so republishing it is no conflict.
    """
    significant = {
        key: [_without_id(item) for item in document.get(key) or []] for key in INTERACTION_KEYS
    }
    significant["specification"] = specification_version(document)  # type: ignore[assignment]
    return hashlib.sha1(_canonical(significant), usedforsecurity=False).hexdigest()


def with_interaction_ids(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document whose interactions each carry `_id`, a hash of their content.

    The verifier reports results per `_id`, so the id must not change when the same interaction
    is published again; hashing the interaction (without any `_id` it came with) guarantees that.
    """
    result = dict(document)
    for key in INTERACTION_KEYS:
        items = document.get(key)
        if isinstance(items, list):
            result[key] = [_with_id(item) for item in items]
    return result


def _with_id(interaction: Any) -> Any:
    if not isinstance(interaction, dict):
        return interaction
    content = _without_id(interaction)
    digest = hashlib.sha1(_canonical(content), usedforsecurity=False).hexdigest()
    return {"_id": digest, **content}
