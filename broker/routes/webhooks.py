"""The webhook API: definitions (all, per pacticipant), test execution, triggered webhooks, logs."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse

from broker import webhooks
from broker.deps import DatabaseDep, UrlsDep
from broker.representations import HalResponse
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)

AnyBody = Annotated[Any, Body()]


def _create(
    body: Any,
    database: DatabaseDep,
    urls: UrlsDep,
    consumer: str | None = None,
    provider: str | None = None,
) -> HalResponse:
    if isinstance(body, dict):
        # The per-pacticipant paths name the parties; the body may not name others.
        for role, name in (("consumer", consumer), ("provider", provider)):
            if name is not None:
                body = {**body, role: {"name": name}}
    with database.write() as connection:
        spec = webhooks.parse_webhook(connection, body)
        webhook_uuid = webhooks.new_uuid()
        webhooks.save_webhook(connection, webhook_uuid, spec)
        row = webhooks.require_webhook(connection, webhook_uuid)
        document = webhooks.webhook_document(urls.base, row)
    return HalResponse(
        document, status_code=201, headers={"Location": document["_links"]["self"]["href"]}
    )


def _list(
    request: Request,
    database: DatabaseDep,
    urls: UrlsDep,
    consumer: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    with database.read() as connection:
        rows = webhooks.list_webhooks(connection, consumer, provider)
        return webhooks.webhooks_document(urls.base, str(request.url), rows)


@router.get("/webhooks")
def list_webhooks(request: Request, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    return _list(request, database, urls)


@router.post("/webhooks", status_code=201)
def create_webhook(body: AnyBody, database: DatabaseDep, urls: UrlsDep) -> HalResponse:
    return _create(body, database, urls)


@router.get("/webhooks/provider/{provider:seg}/consumer/{consumer:seg}")
def list_integration_webhooks(
    provider: str, consumer: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    return _list(request, database, urls, consumer, provider)


@router.post("/webhooks/provider/{provider:seg}/consumer/{consumer:seg}", status_code=201)
def create_integration_webhook(
    provider: str, consumer: str, body: AnyBody, database: DatabaseDep, urls: UrlsDep
) -> HalResponse:
    return _create(body, database, urls, consumer, provider)


@router.get("/webhooks/provider/{provider:seg}")
def list_provider_webhooks(
    provider: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    return _list(request, database, urls, provider=provider)


@router.post("/webhooks/provider/{provider:seg}", status_code=201)
def create_provider_webhook(
    provider: str, body: AnyBody, database: DatabaseDep, urls: UrlsDep
) -> HalResponse:
    return _create(body, database, urls, provider=provider)


@router.get("/webhooks/consumer/{consumer:seg}")
def list_consumer_webhooks(
    consumer: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    return _list(request, database, urls, consumer=consumer)


@router.post("/webhooks/consumer/{consumer:seg}", status_code=201)
def create_consumer_webhook(
    consumer: str, body: AnyBody, database: DatabaseDep, urls: UrlsDep
) -> HalResponse:
    return _create(body, database, urls, consumer=consumer)


@router.get("/webhooks/{uuid:seg}")
def get_webhook(uuid: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        return webhooks.webhook_document(urls.base, webhooks.require_webhook(connection, uuid))


@router.put("/webhooks/{uuid:seg}")
def put_webhook(uuid: str, body: AnyBody, database: DatabaseDep, urls: UrlsDep) -> HalResponse:
    """Create (201) or replace (200) the webhook `uuid`: `pact broker create-or-update-webhook`."""
    webhooks.check_uuid(uuid)
    with database.write() as connection:
        spec = webhooks.parse_webhook(connection, body)
        created = webhooks.save_webhook(connection, uuid, spec)
        document = webhooks.webhook_document(urls.base, webhooks.require_webhook(connection, uuid))
    return HalResponse(document, status_code=201 if created else 200)


@router.delete("/webhooks/{uuid:seg}", status_code=204)
def delete_webhook(uuid: str, database: DatabaseDep) -> PlainTextResponse:
    with database.write() as connection:
        webhooks.delete_webhook(connection, uuid)
    return PlainTextResponse("", status_code=204)


@router.post("/webhooks/{uuid:seg}/execute")
def execute_webhook(
    uuid: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    """Run the webhook once now, with the newest matching pact, and answer what happened.

    The attempt is logged like any triggered webhook (trigger type `user`), without retries.
    """
    with database.write() as connection:
        webhook = webhooks.require_webhook(connection, uuid)
        triggered_uuid = webhooks.trigger_test(connection, urls.base, webhook)
    settings: webhooks.Settings = request.app.state.webhooks.settings
    attempt = webhooks.execute_once(database, triggered_uuid, settings)
    assert attempt is not None  # the webhook was found just above and cannot be gone yet
    base = urls.base
    return {
        "success": attempt.success,
        "request": attempt.request,
        "response": attempt.response,
        "error": attempt.error,
        "logs": attempt.logs,
        "_links": {
            "pb:webhook": {"href": f"{base}/webhooks/{uuid}"},
            "pb:triggered-webhook": {"href": f"{base}/triggered-webhooks/{triggered_uuid}"},
            "try-again": {"href": f"{base}/webhooks/{uuid}/execute"},
        },
    }


@router.get("/webhooks/{uuid:seg}/triggered-webhooks")
def list_triggered(
    uuid: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    attempts = request.app.state.webhooks.settings.attempts
    with database.read() as connection:
        webhooks.require_webhook(connection, uuid)
        rows = webhooks.triggered_for_webhook(connection, uuid)
        documents = [
            webhooks.triggered_document(connection, urls.base, row, attempts) for row in rows
        ]
    return {
        "_embedded": {"triggeredWebhooks": documents},
        "_links": {"self": {"href": f"{urls.base}/webhooks/{uuid}/triggered-webhooks"}},
    }


@router.get("/triggered-webhooks/{uuid:seg}")
def get_triggered(
    uuid: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    attempts = request.app.state.webhooks.settings.attempts
    with database.read() as connection:
        row = webhooks.find_triggered(connection, uuid)
        return webhooks.triggered_document(connection, urls.base, row, attempts)


@router.get("/triggered-webhooks/{uuid:seg}/logs", response_class=PlainTextResponse)
def get_triggered_logs(uuid: str, database: DatabaseDep) -> PlainTextResponse:
    """Every attempt's log, oldest first, as text (the real broker's `pb:logs`)."""
    with database.read() as connection:
        return PlainTextResponse(
            webhooks.logs_text(connection, webhooks.find_triggered(connection, uuid))
        )
