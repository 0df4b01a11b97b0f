"""Webhooks: definitions, the events that trigger them, templates, and asynchronous delivery.

Follows pact_broker `lib/pact_broker/webhooks/` (event names, `${pactbroker.*}` parameters in
`pact_and_verification_parameters.rb`, which provider versions `contract_requiring_verification_
published` names in `verifications/service.rb` `calculate_required_verifications_for_pact`, log
redaction in `redact_logs.rb`). Differences are listed in broker/README.md.

A publish only writes rows (in its own transaction) and hands their ids to the dispatcher, whose
worker threads deliver them with httpx: a slow or failing receiver never slows or fails a publish.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
import urllib.parse
import uuid as uuid_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, Request

from broker import repository
from broker.db import now
from broker.errors import NotFound, ValidationError
from broker.pacts import find_pact

if TYPE_CHECKING:
    from collections.abc import Iterable

    from broker.db import Database
    from broker.pacts import PublishedPact

logger = logging.getLogger("broker.webhooks")

CONTRACT_PUBLISHED = "contract_published"
CONTRACT_CONTENT_CHANGED = "contract_content_changed"
CONTRACT_REQUIRING_VERIFICATION_PUBLISHED = "contract_requiring_verification_published"
VERIFICATION_PUBLISHED = "provider_verification_published"
VERIFICATION_SUCCEEDED = "provider_verification_succeeded"
VERIFICATION_FAILED = "provider_verification_failed"
EVENTS = (
    CONTRACT_PUBLISHED,
    CONTRACT_CONTENT_CHANGED,
    CONTRACT_REQUIRING_VERIFICATION_PUBLISHED,
    VERIFICATION_PUBLISHED,
    VERIFICATION_SUCCEEDED,
    VERIFICATION_FAILED,
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# The real broker's rule for a client-chosen uuid (`webhooks/service.rb` `valid_uuid_format?`).
UUID_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,}$")
# Requests the broker makes for a webhook carry this header; what they change triggers no
# webhook, so a webhook whose target is this broker cannot trigger itself endlessly.
LOOP_HEADER = "X-Pact-Broker-Webhook"
MASK = "**********"
LOG_MASK = "[REDACTED]"
# Header names whose values are secrets (the real broker redacts Authorization and *Token*).
SECRET_HEADER = re.compile(r"authorization|token|secret|api-?key|cookie", re.IGNORECASE)
# Control characters would split a header (request smuggling) or fail the request later.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEMPLATE = re.compile(r"\$\{(pactbroker\.[A-Za-z]+)\}")
MAX_LOGGED_BODY = 10_000
# The body of PactFlow's example providers' GitHub `repository_dispatch` webhook: what a
# provider's `contract_requiring_verification_published` workflow reads from `client_payload`.
GITHUB_DISPATCH_BODY = (
    '{"event_type":"contract_requiring_verification_published","client_payload":'
    '{"pact_url":"${pactbroker.pactUrl}","sha":"${pactbroker.providerVersionNumber}",'
    '"branch":"${pactbroker.providerVersionBranch}"}}'
)


# --- definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSpec:
    """A validated webhook definition, as stored."""

    description: str | None
    consumer_name: str | None
    provider_name: str | None
    enabled: bool
    events: list[str]
    request: dict[str, Any]


def _party(body: dict[str, Any], role: str, errors: dict[str, list[str]]) -> str | None:
    party = body.get(role)
    if party is None:
        return None
    if not isinstance(party, dict) or not isinstance(party.get("name"), str):
        errors[f"{role}.name"] = ["must be a string (labels are not supported)"]
        return None
    name: str = party["name"]
    if not name.strip():
        errors[f"{role}.name"] = ["can't be blank"]
    return name


def parse_webhook(connection: sqlite3.Connection, body: Any) -> WebhookSpec:
    """A webhook body as the real broker accepts it, or a 400 naming every bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        errors["description"] = ["must be a string"]
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = ["must be true or false"]
    consumer = _party(body, "consumer", errors)
    provider = _party(body, "provider", errors)
    for role, name in (("consumer", consumer), ("provider", provider)):
        if (
            name
            and f"{role}.name" not in errors
            and not repository.find_pacticipant(connection, name)
        ):
            errors[f"{role}.name"] = [f"No {role} with name '{name}' found"]
    # The real broker's default, kept for webhooks created before events existed.
    raw_events = body.get("events", [{"name": CONTRACT_CONTENT_CHANGED}])
    events: list[str] = []
    if not isinstance(raw_events, list) or not raw_events:
        errors["events"] = ['must be a non-empty list of {"name": ...}']
    else:
        for index, event in enumerate(raw_events):
            name = event.get("name") if isinstance(event, dict) else None
            if name not in EVENTS:
                errors[f"events[{index}].name"] = [f"must be one of {', '.join(EVENTS)}"]
            elif name not in events:
                events.append(name)
    request = body.get("request")
    if not isinstance(request, dict):
        errors["request"] = ["is missing (an object with method and url)"]
        raise ValidationError(errors)
    method = request.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        errors["request.method"] = [f"must be one of {', '.join(METHODS)}"]
    url = request.get("url")
    if not isinstance(url, str) or not _is_http_url(url):
        errors["request.url"] = ["must be an http or https URL"]
    headers = request.get("headers", {})
    if headers is None:
        headers = {}
    if not isinstance(headers, dict) or not all(
        isinstance(key, str) and isinstance(value, str) and not CONTROL.search(key + value)
        for key, value in headers.items()
    ):
        errors["request.headers"] = ["must be an object of header names to string values"]
    for field in ("username", "password"):
        if request.get(field) is not None and not isinstance(request[field], str):
            errors[f"request.{field}"] = ["must be a string"]
    if errors:
        raise ValidationError(errors)
    stored = {
        "method": str(method).upper(),
        "url": url,
        "headers": headers,
        "body": request.get("body"),
        "username": request.get("username"),
        "password": request.get("password"),
    }
    return WebhookSpec(description, consumer, provider, bool(enabled), events, stored)


def _is_http_url(url: str) -> bool:
    # Templates are allowed in the URL; check it with them filled by a harmless value.
    try:
        parsed = urllib.parse.urlsplit(TEMPLATE.sub("x", url))
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


def save_webhook(connection: sqlite3.Connection, webhook_uuid: str, spec: WebhookSpec) -> bool:
    """Create or replace the webhook `webhook_uuid`; True if it was created."""
    stamp = now()
    created = find_webhook(connection, webhook_uuid) is None
    connection.execute(
        "INSERT INTO webhooks (uuid, description, consumer_name, provider_name, enabled, events,"
        " request, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (uuid) DO UPDATE SET description = excluded.description,"
        " consumer_name = excluded.consumer_name, provider_name = excluded.provider_name,"
        " enabled = excluded.enabled, events = excluded.events, request = excluded.request,"
        " updated_at = excluded.updated_at",
        (
            webhook_uuid,
            spec.description,
            spec.consumer_name,
            spec.provider_name,
            spec.enabled,
            json.dumps(spec.events),
            json.dumps(spec.request),
            stamp,
            stamp,
        ),
    )
    return created


def new_uuid() -> str:
    return str(uuid_module.uuid4())


def check_uuid(webhook_uuid: str) -> None:
    if not UUID_FORMAT.match(webhook_uuid):
        raise ValidationError(
            {"uuid": ["must be at least 16 characters of letters, digits, '-' or '_'"]}
        )


def find_webhook(connection: sqlite3.Connection, webhook_uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM webhooks WHERE uuid = ?", (webhook_uuid,)
    ).fetchone()
    return row


def require_webhook(connection: sqlite3.Connection, webhook_uuid: str) -> sqlite3.Row:
    row = find_webhook(connection, webhook_uuid)
    if row is None:
        raise NotFound(f"Webhook {webhook_uuid}")
    return row


def list_webhooks(
    connection: sqlite3.Connection, consumer: str | None = None, provider: str | None = None
) -> list[sqlite3.Row]:
    """All webhooks, or those defined for exactly this consumer and/or provider."""
    sql, args = "SELECT * FROM webhooks WHERE 1 = 1", []
    if consumer is not None:
        sql += " AND consumer_name = ?"
        args.append(consumer)
    if provider is not None:
        sql += " AND provider_name = ?"
        args.append(provider)
    return list(connection.execute(sql + " ORDER BY id", args))


def delete_webhook(connection: sqlite3.Connection, webhook_uuid: str) -> None:
    require_webhook(connection, webhook_uuid)
    connection.execute(
        "DELETE FROM triggered_webhooks"
        " WHERE webhook_uuid = ? AND status IN ('not_run', 'retrying')",
        (webhook_uuid,),
    )
    connection.execute("DELETE FROM webhooks WHERE uuid = ?", (webhook_uuid,))


# --- masking --------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """A URL without the password of its userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username}:{MASK}@{parts.netloc.rpartition('@')[2]}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def mask_headers(headers: dict[str, str], mask: str = MASK) -> dict[str, str]:
    return {
        name: (mask if SECRET_HEADER.search(name) else value) for name, value in headers.items()
    }


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret value replaced (the real broker's `RedactLogs`)."""
    for secret in secrets:
        if secret and len(secret) >= 3:  # a one-letter "secret" would shred the log
            text = text.replace(secret, LOG_MASK)
    return text


def request_secrets(request: dict[str, Any]) -> list[str]:
    """Every value in a rendered request that must never reach a log or an API answer."""
    secrets = [request.get("password") or ""]
    for name, value in (request.get("headers") or {}).items():
        if SECRET_HEADER.search(name):
            secrets.append(value)
            # "Bearer abc": the token alone may appear elsewhere too.
            secrets.extend(part for part in value.split() if len(part) >= 8)
    try:
        password = urllib.parse.urlsplit(request.get("url", "")).password
    except ValueError:
        password = None
    secrets.append(password or "")
    return [secret for secret in secrets if secret]


# --- representations ------------------------------------------------------------------------


def webhook_document(base: str, row: sqlite3.Row) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(row["request"])
    shown: dict[str, Any] = {
        "method": request["method"],
        "url": mask_url(request["url"]),
        "headers": mask_headers(request.get("headers") or {}),
    }
    if request.get("body") is not None:
        shown["body"] = request["body"]
    if request.get("username") is not None:
        shown["username"] = request["username"]
    if request.get("password") is not None:
        shown["password"] = MASK
    url = f"{base}/webhooks/{row['uuid']}"
    document: dict[str, Any] = {
        "uuid": row["uuid"],
        "description": row["description"] or _description(row),
        "enabled": bool(row["enabled"]),
        "request": shown,
        "events": [{"name": name} for name in json.loads(row["events"])],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "_links": {
            "self": {"href": url, "title": row["description"] or _description(row)},
            "pb:execute": {"href": f"{url}/execute", "title": "Test the execution of the webhook"},
            "pb:triggered-webhooks": {
                "href": f"{url}/triggered-webhooks",
                "title": "Triggered webhooks and their logs",
            },
            "pb:webhooks": {"href": f"{base}/webhooks", "title": "All webhooks"},
        },
    }
    for role in ("consumer", "provider"):
        name = row[f"{role}_name"]
        if name is not None:
            document[role] = {"name": name}
            document["_links"][f"pb:{role}"] = {
                "href": f"{base}/pacticipants/{urllib.parse.quote(name, safe='')}",
                "name": name,
            }
    return document


def _description(row: sqlite3.Row) -> str:
    consumer = row["consumer_name"] or "any consumer"
    provider = row["provider_name"] or "any provider"
    return f"A webhook for the pact between {consumer} and {provider}"


def webhooks_document(base: str, self_href: str, rows: list[sqlite3.Row]) -> dict[str, Any]:
    return {
        "_links": {
            "self": {"href": self_href, "title": "Webhooks"},
            "pb:create": {"href": self_href, "title": "POST to create a webhook"},
            "pb:webhooks": [
                {
                    "href": f"{base}/webhooks/{row['uuid']}",
                    "title": row["description"] or _description(row),
                    "name": row["description"] or _description(row),
                }
                for row in rows
            ],
        },
        "_embedded": {"webhooks": [webhook_document(base, row) for row in rows]},
    }


def triggered_document(
    connection: sqlite3.Connection, base: str, row: sqlite3.Row, attempts_allowed: int
) -> dict[str, Any]:
    url = f"{base}/triggered-webhooks/{row['uuid']}"
    executions = connection.execute(
        "SELECT * FROM webhook_executions WHERE triggered_webhook_id = ? ORDER BY id", (row["id"],)
    ).fetchall()
    return {
        "uuid": row["uuid"],
        "status": row["status"],
        "eventName": row["event_name"],
        "triggerType": row["trigger_type"],
        "attemptsMade": row["attempts"],
        # A test execution (`user`) and a finished delivery have no attempts left.
        "attemptsRemaining": (
            max(0, attempts_allowed - row["attempts"])
            if row["status"] in ("not_run", "retrying") and row["trigger_type"] != "user"
            else 0
        ),
        "parameters": json.loads(row["parameters"]),
        "triggeredAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "executions": [
            {
                "success": bool(execution["success"]),
                "executedAt": execution["created_at"],
                "request": json.loads(execution["request"]),
                "response": json.loads(execution["response"]) if execution["response"] else None,
                "error": execution["error"],
            }
            for execution in executions
        ],
        "_links": {
            "self": {"href": url},
            "pb:logs": {"href": f"{url}/logs", "title": "Webhook execution logs"},
            "pb:webhook": {"href": f"{base}/webhooks/{row['webhook_uuid']}"},
        },
    }


def find_triggered(connection: sqlite3.Connection, triggered_uuid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM triggered_webhooks WHERE uuid = ?", (triggered_uuid,)
    ).fetchone()
    if row is None:
        raise NotFound(f"Triggered webhook {triggered_uuid}")
    return row


def triggered_for_webhook(connection: sqlite3.Connection, webhook_uuid: str) -> list[sqlite3.Row]:
    return list(
        connection.execute(
            "SELECT * FROM triggered_webhooks WHERE webhook_uuid = ? ORDER BY id", (webhook_uuid,)
        )
    )


def logs_text(connection: sqlite3.Connection, triggered: sqlite3.Row) -> str:
    rows = connection.execute(
        "SELECT logs FROM webhook_executions WHERE triggered_webhook_id = ? ORDER BY id",
        (triggered["id"],),
    )
    return "\n".join(row["logs"] for row in rows)


# --- events and template parameters -----------------------------------------------------------


def _version_branch(connection: sqlite3.Connection, version_id: int) -> str:
    branches = repository.version_branch_names(connection, version_id)
    return branches[0] if branches else ""


def _version_tags(connection: sqlite3.Connection, version_id: int) -> str:
    return ", ".join(row["name"] for row in repository.version_tags(connection, version_id))


def pact_parameters(
    connection: sqlite3.Connection, base: str, pact: sqlite3.Row, event_name: str
) -> dict[str, str]:
    """The `${pactbroker.*}` values of a pact event (no verification yet: "pending")."""
    provider, consumer = pact["provider_name"], pact["consumer_name"]
    quote = urllib.parse.quote
    return {
        "pactbroker.pactUrl": (
            f"{base}/pacts/provider/{quote(provider, safe='')}/consumer/"
            f"{quote(consumer, safe='')}/pact-version/{pact['sha']}"
        ),
        "pactbroker.consumerName": consumer,
        "pactbroker.providerName": provider,
        "pactbroker.consumerVersionNumber": pact["consumer_version_number"],
        "pactbroker.consumerVersionBranch": _version_branch(
            connection, pact["consumer_version_id"]
        ),
        "pactbroker.consumerVersionTags": _version_tags(connection, pact["consumer_version_id"]),
        "pactbroker.providerVersionNumber": "",
        "pactbroker.providerVersionBranch": "",
        "pactbroker.providerVersionTags": "",
        "pactbroker.verificationResultUrl": "",
        "pactbroker.githubVerificationStatus": "pending",
        "pactbroker.bitbucketVerificationStatus": "INPROGRESS",
        "pactbroker.consumerLabels": "",
        "pactbroker.providerLabels": "",
        "pactbroker.eventName": event_name,
        "pactbroker.currentlyDeployedProviderVersionNumber": "",
    }


def verification_parameters(
    connection: sqlite3.Connection,
    base: str,
    pact: sqlite3.Row,
    verification: sqlite3.Row,
    event_name: str,
) -> dict[str, str]:
    parameters = pact_parameters(connection, base, pact, event_name)
    success = bool(verification["success"])
    parameters.update(
        {
            "pactbroker.providerVersionNumber": verification["provider_version_number"],
            "pactbroker.providerVersionBranch": _version_branch(
                connection, verification["provider_version_id"]
            ),
            "pactbroker.providerVersionTags": _version_tags(
                connection, verification["provider_version_id"]
            ),
            "pactbroker.verificationResultUrl": (
                f"{parameters['pactbroker.pactUrl']}/verification-results/{verification['id']}"
            ),
            "pactbroker.githubVerificationStatus": "success" if success else "failure",
            "pactbroker.bitbucketVerificationStatus": "SUCCESSFUL" if success else "FAILED",
        }
    )
    return parameters


def required_verifications(
    connection: sqlite3.Connection, pact: sqlite3.Row
) -> list[tuple[int, str, str]]:
    """The provider versions that have not verified this pact content: (id, number, branch).

    As `calculate_required_verifications_for_pact`: the head of the provider's main branch,
    then each currently deployed version, then each released version still supported; one
    entry per version, and only versions with no verification (passed or failed) of the content.
    """
    provider_id = pact["provider_id"]
    candidates: list[tuple[int, str]] = []
    main = connection.execute(
        "SELECT b.head_version_id, b.name FROM pacticipants p JOIN branches b"
        " ON b.pacticipant_id = p.id AND b.name = p.main_branch"
        " WHERE p.id = ? AND b.head_version_id IS NOT NULL",
        (provider_id,),
    ).fetchone()
    if main is not None:
        candidates.append((main["head_version_id"], main["name"]))
    for row in connection.execute(
        "SELECT version_id FROM deployed_versions WHERE pacticipant_id = ?"
        " AND undeployed_at IS NULL ORDER BY id",
        (provider_id,),
    ):
        candidates.append((row["version_id"], ""))
    for row in connection.execute(
        "SELECT version_id FROM released_versions WHERE pacticipant_id = ?"
        " AND support_ended_at IS NULL ORDER BY id",
        (provider_id,),
    ):
        candidates.append((row["version_id"], ""))
    required: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    for version_id, branch in candidates:
        if version_id in seen:
            continue
        seen.add(version_id)
        verified = connection.execute(
            "SELECT 1 FROM verifications WHERE pact_version_id = ? AND provider_version_id = ?",
            (pact["pact_version_id"], version_id),
        ).fetchone()
        if verified is not None:
            continue
        number = connection.execute(
            "SELECT number FROM versions WHERE id = ?", (version_id,)
        ).fetchone()["number"]
        required.append((version_id, number, branch or _version_branch(connection, version_id)))
    return required


def _webhooks_for(
    connection: sqlite3.Connection, consumer: str, provider: str, event_name: str
) -> list[sqlite3.Row]:
    return [
        row
        for row in connection.execute(
            "SELECT * FROM webhooks WHERE enabled = 1"
            " AND (consumer_name IS NULL OR consumer_name = ?)"
            " AND (provider_name IS NULL OR provider_name = ?) ORDER BY id",
            (consumer, provider),
        )
        if event_name in json.loads(row["events"])
    ]


def _trigger(
    connection: sqlite3.Connection,
    webhook: sqlite3.Row,
    event_name: str,
    parameters: dict[str, str],
    trigger_type: str = "resource_creation",
) -> str:
    triggered_uuid = new_uuid()
    stamp = now()
    connection.execute(
        "INSERT INTO triggered_webhooks (uuid, webhook_uuid, event_name, trigger_type, status,"
        " parameters, created_at, updated_at) VALUES (?, ?, ?, ?, 'not_run', ?, ?, ?)",
        (
            triggered_uuid,
            webhook["uuid"],
            event_name,
            trigger_type,
            json.dumps(parameters),
            stamp,
            stamp,
        ),
    )
    return triggered_uuid


def _previous_sha(connection: sqlite3.Connection, pact: sqlite3.Row) -> str | None:
    row = connection.execute(
        "SELECT pv.sha FROM pact_publications pp"
        " JOIN pact_versions pv ON pv.id = pp.pact_version_id"
        " WHERE pp.consumer_id = ? AND pp.provider_id = ? AND pp.id < ?"
        " ORDER BY pp.id DESC LIMIT 1",
        (pact["consumer_id"], pact["provider_id"], pact["publication_id"]),
    ).fetchone()
    return None if row is None else str(row["sha"])


def trigger_for_publication(
    connection: sqlite3.Connection, base: str, published: PublishedPact
) -> list[str]:
    """Record the triggered webhooks of one published pact; their uuids, to deliver later."""
    pact = find_pact(
        connection,
        published.provider_name,
        published.consumer_name,
        published.consumer_version_number,
    )
    consumer, provider = pact["consumer_name"], pact["provider_name"]
    fired: list[str] = []
    for webhook in _webhooks_for(connection, consumer, provider, CONTRACT_PUBLISHED):
        parameters = pact_parameters(connection, base, pact, CONTRACT_PUBLISHED)
        fired.append(_trigger(connection, webhook, CONTRACT_PUBLISHED, parameters))
    # A republication of the same consumer version changes nothing.
    if published.outcome == "created" and _previous_sha(connection, pact) != pact["sha"]:
        for webhook in _webhooks_for(connection, consumer, provider, CONTRACT_CONTENT_CHANGED):
            parameters = pact_parameters(connection, base, pact, CONTRACT_CONTENT_CHANGED)
            fired.append(_trigger(connection, webhook, CONTRACT_CONTENT_CHANGED, parameters))
    event = CONTRACT_REQUIRING_VERIFICATION_PUBLISHED
    webhooks = _webhooks_for(connection, consumer, provider, event)
    if webhooks:
        for _, number, branch in required_verifications(connection, pact):
            for webhook in webhooks:
                parameters = pact_parameters(connection, base, pact, event)
                parameters["pactbroker.providerVersionNumber"] = number
                parameters["pactbroker.providerVersionBranch"] = branch
                fired.append(_trigger(connection, webhook, event, parameters))
    return fired


def trigger_for_verification(
    connection: sqlite3.Connection, base: str, pact: sqlite3.Row, verification: sqlite3.Row
) -> list[str]:
    consumer, provider = pact["consumer_name"], pact["provider_name"]
    events = [
        VERIFICATION_PUBLISHED,
        VERIFICATION_SUCCEEDED if verification["success"] else VERIFICATION_FAILED,
    ]
    fired: list[str] = []
    for event in events:
        for webhook in _webhooks_for(connection, consumer, provider, event):
            parameters = verification_parameters(connection, base, pact, verification, event)
            fired.append(_trigger(connection, webhook, event, parameters))
    return fired


def test_parameters(
    connection: sqlite3.Connection, base: str, webhook: sqlite3.Row
) -> dict[str, str]:
    """The parameters of `POST /webhooks/{uuid}/execute`: the newest matching pact, if any."""
    sql = (
        "SELECT pp.id AS publication_id, pv.id AS pact_version_id, pv.sha,"
        " c.name AS consumer_name, pr.name AS provider_name, c.id AS consumer_id,"
        " pr.id AS provider_id, cv.id AS consumer_version_id, cv.number AS consumer_version_number"
        " FROM pact_publications pp JOIN pact_versions pv ON pv.id = pp.pact_version_id"
        " JOIN pacticipants c ON c.id = pp.consumer_id"
        " JOIN pacticipants pr ON pr.id = pp.provider_id"
        " JOIN versions cv ON cv.id = pp.consumer_version_id"
        " WHERE (? IS NULL OR c.name = ?) AND (? IS NULL OR pr.name = ?)"
        " ORDER BY pp.id DESC LIMIT 1"
    )
    consumer, provider = webhook["consumer_name"], webhook["provider_name"]
    pact = connection.execute(sql, (consumer, consumer, provider, provider)).fetchone()
    if pact is None:
        # The real broker's placeholder pact: the request can still be tried.
        return {
            "pactbroker.pactUrl": f"{base}/pacts/provider/{provider or 'provider'}/consumer/"
            f"{consumer or 'consumer'}/pact-version/PLACEHOLDER",
            "pactbroker.consumerName": consumer or "",
            "pactbroker.providerName": provider or "",
            "pactbroker.githubVerificationStatus": "pending",
            "pactbroker.eventName": "test",
        }
    verification = connection.execute(
        "SELECT ve.*, v.number AS provider_version_number FROM verifications ve"
        " JOIN versions v ON v.id = ve.provider_version_id WHERE ve.pact_version_id = ?"
        " ORDER BY ve.id DESC LIMIT 1",
        (pact["pact_version_id"],),
    ).fetchone()
    if verification is not None:
        return verification_parameters(connection, base, pact, verification, "test")
    return pact_parameters(connection, base, pact, "test")


def trigger_test(connection: sqlite3.Connection, base: str, webhook: sqlite3.Row) -> str:
    return _trigger(connection, webhook, "test", test_parameters(connection, base, webhook), "user")


# --- rendering and delivery -----------------------------------------------------------------


def render(template: str, parameters: dict[str, str], *, escape: bool = False) -> str:
    """Fill `${pactbroker.x}`; an unknown parameter becomes empty, as in the real broker."""

    def value(match: re.Match[str]) -> str:
        filled = parameters.get(match.group(1), "")
        return urllib.parse.quote(filled, safe="") if escape else filled

    return TEMPLATE.sub(value, template)


def _render_body(body: Any, parameters: dict[str, str]) -> Any:
    # A JSON body is filled value by value, so a parameter can never break its JSON.
    if isinstance(body, str):
        return render(body, parameters)
    if isinstance(body, dict):
        return {key: _render_body(value, parameters) for key, value in body.items()}
    if isinstance(body, list):
        return [_render_body(value, parameters) for value in body]
    return body


def render_request(request: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "method": request["method"],
        "url": render(request["url"], parameters, escape=True),
        "headers": {
            name: render(value, parameters)
            for name, value in (request.get("headers") or {}).items()
        },
        "body": _render_body(request.get("body"), parameters),
        "username": request.get("username"),
        "password": request.get("password"),
    }


@dataclass(frozen=True)
class Settings:
    """How deliveries are retried and bounded; read from the environment at startup."""

    # Seconds to wait before each retry (the real broker's default schedule); attempts = 1 + len.
    retry_schedule: tuple[float, ...] = (10, 60, 120, 300, 600, 1200)
    timeout_s: float = 10.0
    workers: int = 4

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        settings = cls()
        schedule = env.get("PACT_BROKER_WEBHOOK_RETRY_SCHEDULE")
        timeout = env.get("PACT_BROKER_WEBHOOK_TIMEOUT")
        return cls(
            retry_schedule=(
                tuple(float(part) for part in schedule.split(",") if part.strip())
                if schedule is not None
                else settings.retry_schedule
            ),
            timeout_s=float(timeout) if timeout else settings.timeout_s,
        )

    @property
    def attempts(self) -> int:
        return 1 + len(self.retry_schedule)


@dataclass(frozen=True)
class Attempt:
    success: bool
    request: dict[str, Any]
    response: dict[str, Any] | None
    error: str | None
    logs: str


def _shown_body(body: str, secrets: list[str]) -> str:
    body = redact(body, secrets)
    return body if len(body) <= MAX_LOGGED_BODY else body[:MAX_LOGGED_BODY] + "... (truncated)"


def deliver(rendered: dict[str, Any], triggered_uuid: str, timeout_s: float) -> Attempt:
    """One HTTP request for a triggered webhook; what was sent and received, credential-free."""
    secrets = request_secrets(rendered)
    body = rendered["body"]
    content = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    headers = {**rendered["headers"], LOOP_HEADER: triggered_uuid}
    auth = None
    if rendered.get("username") is not None:
        auth = httpx.BasicAuth(rendered["username"], rendered.get("password") or "")
    shown_request = {
        "method": rendered["method"],
        "url": mask_url(rendered["url"]),
        "headers": mask_headers(headers),
        "body": None if content is None else _shown_body(content, secrets),
    }
    lines = [f"[{now()}] {rendered['method']} {shown_request['url']}"]
    lines += [f"{name}: {value}" for name, value in mask_headers(headers, LOG_MASK).items()]
    if content is not None:
        lines.append(shown_request["body"] or "")
    response_doc: dict[str, Any] | None = None
    error: str | None = None
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.request(
                rendered["method"], rendered["url"], headers=headers, content=content, auth=auth
            )
        response_doc = {
            "status": response.status_code,
            "headers": mask_headers(dict(response.headers)),
            "body": _shown_body(response.text, secrets),
        }
        success = 200 <= response.status_code < 300
        lines.append(f"[{now()}] Response: HTTP {response.status_code}")
        lines += [f"{k}: {v}" for k, v in mask_headers(dict(response.headers), LOG_MASK).items()]
        lines.append(response_doc["body"])
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exception:
        # The exception's text can hold the URL: redact it like everything else.
        error = redact(f"{type(exception).__name__}: {exception}", secrets)
        success = False
        lines.append(f"[{now()}] Error: {error}")
    lines.append(f"[{now()}] Webhook {'succeeded' if success else 'failed'}")
    logs = redact("\n".join(lines), secrets)
    return Attempt(success, shown_request, response_doc, error, logs)


def record_attempt(
    connection: sqlite3.Connection, triggered: sqlite3.Row, attempt: Attempt, status: str
) -> None:
    connection.execute(
        "INSERT INTO webhook_executions (triggered_webhook_id, success, request, response,"
        " error, logs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            triggered["id"],
            attempt.success,
            json.dumps(attempt.request),
            json.dumps(attempt.response) if attempt.response is not None else None,
            attempt.error,
            attempt.logs,
            now(),
        ),
    )
    connection.execute(
        "UPDATE triggered_webhooks SET attempts = attempts + 1, status = ?, updated_at = ?"
        " WHERE id = ?",
        (status, now(), triggered["id"]),
    )


def execute_once(database: Database, triggered_uuid: str, settings: Settings) -> Attempt | None:
    """Deliver a triggered webhook once and record it; None if it or its webhook is gone."""
    with database.read() as connection:
        triggered = find_triggered(connection, triggered_uuid)
        webhook = find_webhook(connection, triggered["webhook_uuid"])
    if webhook is None:
        return None
    rendered = render_request(json.loads(webhook["request"]), json.loads(triggered["parameters"]))
    attempt = deliver(rendered, triggered_uuid, settings.timeout_s)
    made = triggered["attempts"] + 1
    status = (
        "success"
        if attempt.success
        else (
            "failure"
            if made >= settings.attempts or triggered["trigger_type"] == "user"
            else "retrying"
        )
    )
    with database.write() as connection:
        record_attempt(connection, triggered, attempt, status)
    return attempt


class Dispatcher:
    """Delivers triggered webhooks on worker threads, with the bounded retry schedule.

    A retry waits on a timer, not on a worker, so receivers that keep failing never hold up
    the deliveries of other webhooks. The workers are daemon threads: a stopping broker waits
    at most `STOP_GRACE_S` for requests in flight; what they did not record stays `not_run` or
    `retrying` in the database and is delivered again at the next start.
    """

    STOP_GRACE_S = 2.0

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._lock = threading.Lock()
        self._stopping = False
        self._timers: set[threading.Timer] = set()
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"webhook-{number}", daemon=True)
            for number in range(settings.workers)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, triggered_uuids: Iterable[str]) -> None:
        with self._lock:
            if self._stopping:
                return  # left "not_run": the next start resumes it
            for triggered_uuid in triggered_uuids:
                self._queue.put(triggered_uuid)

    def resume(self) -> None:
        """Deliveries a stopped broker left unfinished (the log survives a restart)."""
        with self.database.read() as connection:
            rows = connection.execute(
                "SELECT uuid FROM triggered_webhooks WHERE status IN ('not_run', 'retrying')"
                " ORDER BY id"
            ).fetchall()
        self.submit([row["uuid"] for row in rows])

    def _work(self) -> None:
        while (triggered_uuid := self._queue.get()) is not None:
            if not self._stopping:  # else it stays pending and the next start resumes it
                self._run(triggered_uuid)

    def _run(self, triggered_uuid: str) -> None:
        try:
            attempt = execute_once(self.database, triggered_uuid, self.settings)
            if attempt is None or attempt.success:
                return
            with self.database.read() as connection:
                made = find_triggered(connection, triggered_uuid)["attempts"]
            if made < self.settings.attempts:
                self._retry_later(self.settings.retry_schedule[made - 1], triggered_uuid)
        except Exception:  # a delivery must never take the broker down; the log says why
            logger.exception("webhook delivery %s stopped", triggered_uuid)

    def _retry_later(self, delay_s: float, triggered_uuid: str) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            self.submit([triggered_uuid])

        timer = threading.Timer(delay_s, fire)
        timer.daemon = True
        with self._lock:
            if self._stopping:
                return
            self._timers.add(timer)
        timer.start()

    def close(self) -> None:
        """Stop taking work; wait a little for requests in flight (see the class)."""
        with self._lock:
            self._stopping = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.monotonic() + self.STOP_GRACE_S
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))


# --- what the routes use --------------------------------------------------------------------


@dataclass(frozen=True)
class Triggers:
    """Webhook triggering for one request: off for requests a webhook made (no loops)."""

    dispatcher: Dispatcher
    enabled: bool

    def submit(self, triggered_uuids: list[str]) -> None:
        if triggered_uuids:
            self.dispatcher.submit(triggered_uuids)


def get_triggers(request: Request) -> Triggers:
    dispatcher: Dispatcher = request.app.state.webhooks
    return Triggers(dispatcher, LOOP_HEADER not in request.headers)


TriggersDep = Annotated[Triggers, Depends(get_triggers)]
