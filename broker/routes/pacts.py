"""Publishing pacts, reading them, pacts-for-verification, verification results."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request

from broker import pacts, repository, strict_json, webhooks
from broker import representations as rep
from broker import selectors as selector_module
from broker.content import check_interactions
from broker.deps import DatabaseDep, UrlsDep
from broker.errors import NotFound, ValidationError, invalid
from broker.for_verification import pacts_for_verification
from broker.hal import decode_metadata, link
from broker.models import PactsForVerificationQuery, PublishContracts, VerificationResult
from broker.representations import HalResponse
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)

INTEGRATION = "/pacts/provider/{provider:seg}/consumer/{consumer:seg}"


def _decode_contract(index: int, content: str, content_type: str) -> dict[str, Any]:
    field = f"contracts[{index}]"
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise invalid(f"{field}.contentType", "only application/json pacts are supported")
    try:
        document = strict_json.loads(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid(
            f"{field}.content", "must be the base64 encoding of a JSON document"
        ) from None
    if not isinstance(document, dict):
        raise invalid(f"{field}.content", "must be a JSON object (a pact)")
    check_interactions(document, f"{field}.content.")
    return document


def _check_parties(document: dict[str, Any], consumer: str, provider: str, field: str) -> None:
    """A pact document that names other parties than the URL or the publish request is refused."""
    for role, expected in (("consumer", consumer), ("provider", provider)):
        party = document.get(role)
        name = party.get("name") if isinstance(party, dict) else None
        if name is not None and name != expected:
            raise invalid(field, f"the pact's {role} name '{name}' does not match '{expected}'")


@router.post("/contracts/publish")
def publish_contracts(
    body: PublishContracts, database: DatabaseDep, urls: UrlsDep, triggers: webhooks.TriggersDep
) -> HalResponse:
    """Publish a consumer version's pacts with branch, tags and build URL (the CLIs' publish)."""
    errors: dict[str, list[str]] = {}
    if not body.pacticipant_name.strip():
        errors["pacticipantName"] = ["can't be blank"]
    if not body.pacticipant_version_number.strip():
        errors["pacticipantVersionNumber"] = ["can't be blank"]
    if not body.contracts:
        errors["contracts"] = ["must contain at least one contract"]
    if body.branch is not None and not body.branch.strip():
        errors["branch"] = ["can't be blank"]
    for index, tag in enumerate(body.tags):
        if not tag.strip():
            errors[f"tags[{index}]"] = ["can't be blank"]
    contracts: list[pacts.Contract] = []
    for index, contract in enumerate(body.contracts):
        field = f"contracts[{index}]"
        if contract.consumer_name != body.pacticipant_name:
            errors[f"{field}.consumerName"] = [
                f"must match the pacticipantName '{body.pacticipant_name}'"
            ]
        if not contract.provider_name.strip():
            errors[f"{field}.providerName"] = ["can't be blank"]
        if contract.specification != "pact":
            errors[f"{field}.specification"] = ["only 'pact' contracts are supported"]
        if errors:
            continue
        try:
            document = _decode_contract(index, contract.content, contract.content_type)
            _check_parties(
                document, contract.consumer_name, contract.provider_name, f"{field}.content"
            )
        except ValidationError as error:
            errors.update(error.errors)
            continue
        contracts.append(pacts.Contract(contract.consumer_name, contract.provider_name, document))
    if errors:
        raise ValidationError(errors)
    with database.write() as connection:
        result = pacts.publish_contracts(
            connection,
            pacticipant_name=body.pacticipant_name,
            version_number=body.pacticipant_version_number,
            branch=body.branch,
            tags=body.tags,
            build_url=body.build_url,
            contracts=contracts,
        )
        version = rep.version(connection, urls, body.pacticipant_name, result.version)
        pacticipant = rep.pacticipant(urls, result.pacticipant)
        fired = [
            uuid
            for published in (result.pacts if triggers.enabled else [])
            for uuid in webhooks.trigger_for_publication(connection, urls.base, published)
        ]
    triggers.submit(fired)  # after the commit: a delivery must see what it announces
    name, number = body.pacticipant_name, body.pacticipant_version_number
    notices = [{"type": "info", "text": _created_text(result)}, *result.notices]
    notices.append(
        {
            "type": "prompt",
            "text": "Next steps: verify the pacts, then ask can-i-deploy before deploying.",
        }
    )
    return HalResponse(
        {
            "notices": notices,
            "logs": [
                {
                    "level": n["type"],
                    "message": n["text"],
                    "deprecationWarning": "Replaced by notices",
                }
                for n in notices
            ],
            "_embedded": {"pacticipant": pacticipant, "version": version},
            "_links": {
                "pb:pacticipant": link(urls.pacticipant(name), title="Pacticipant", name=name),
                "pb:pacticipant-version": link(
                    urls.version(name, number), title="Pacticipant version", name=number
                ),
                "pb:pacticipant-version-tags": [
                    link(urls.tag(name, number, tag), title="Tag", name=tag) for tag in body.tags
                ],
                "pb:contracts": [
                    link(
                        urls.pact(pact.provider_name, pact.consumer_name, number),
                        title="Pact",
                        name=(
                            f"Pact between {pact.consumer_name} ({number}) and {pact.provider_name}"
                        ),
                    )
                    for pact in result.pacts
                ],
            },
        }
    )


def _created_text(result: pacts.PublishResult) -> str:
    where = []
    if result.branch:
        where.append(f"branch {result.branch}")
    if result.tags:
        where.append(f"tags {', '.join(result.tags)}")
    suffix = f" with {' and '.join(where)}" if where else ""
    return f"Version {result.version['number']} of {result.pacticipant['name']}{suffix}"


@router.put(INTEGRATION + "/version/{version:seg}", status_code=201)
def publish_pact(
    provider: str,
    consumer: str,
    version: str,
    document: Annotated[dict[str, Any], Body()],
    database: DatabaseDep,
    urls: UrlsDep,
    triggers: webhooks.TriggersDep,
) -> HalResponse:
    """The old way to publish one pact (`PUT /pacts/provider/P/consumer/C/version/V`)."""
    if not version.strip():
        raise invalid("version", "can't be blank")
    _check_parties(document, consumer, provider, "pact")
    check_interactions(document)
    with database.write() as connection:
        consumer_row = repository.ensure_pacticipant(connection, consumer)
        version_row, _ = repository.ensure_version(connection, consumer_row["id"], version)
        published = pacts.publish_pact(
            connection, version_row, pacts.Contract(consumer, provider, document)
        )
        row = pacts.find_pact(connection, provider, consumer, version)
        fired = (
            webhooks.trigger_for_publication(connection, urls.base, published)
            if triggers.enabled
            else []
        )
    triggers.submit(fired)
    status = 201 if published.outcome == "created" else 200
    return HalResponse(rep.pact_document(urls, row), status_code=status)


@router.get(INTEGRATION + "/version/{version:seg}")
def get_pact(
    provider: str, consumer: str, version: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        return rep.pact_document(urls, pacts.find_pact(connection, provider, consumer, version))


@router.get(INTEGRATION + "/pact-version/{sha:seg}")
@router.get(INTEGRATION + "/pact-version/{sha:seg}/metadata/{metadata:seg}")
def get_pact_version(
    provider: str,
    consumer: str,
    sha: str,
    database: DatabaseDep,
    urls: UrlsDep,
    metadata: str | None = None,
) -> dict[str, Any]:
    decoded = decode_metadata(metadata) if metadata else None
    with database.read() as connection:
        return rep.pact_document(
            urls, pacts.find_pact_by_sha(connection, provider, consumer, sha), decoded
        )


@router.get(INTEGRATION + "/latest")
@router.get(INTEGRATION + "/latest/{tag:seg}")
def get_latest_pact(
    provider: str, consumer: str, database: DatabaseDep, urls: UrlsDep, tag: str | None = None
) -> dict[str, Any]:
    with database.read() as connection:
        return rep.pact_document(urls, pacts.latest_pact(connection, provider, consumer, tag=tag))


@router.get(INTEGRATION + "/branch/{branch:seg}/latest")
def get_latest_branch_pact(
    provider: str, consumer: str, branch: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        return rep.pact_document(
            urls, pacts.latest_pact(connection, provider, consumer, branch=branch)
        )


@router.post(INTEGRATION + "/pact-version/{sha:seg}/verification-results", status_code=201)
@router.post(
    INTEGRATION + "/pact-version/{sha:seg}/metadata/{metadata:seg}/verification-results",
    status_code=201,
)
def publish_verification_results(
    provider: str,
    consumer: str,
    sha: str,
    body: VerificationResult,
    database: DatabaseDep,
    urls: UrlsDep,
    triggers: webhooks.TriggersDep,
    metadata: str | None = None,
) -> HalResponse:
    """Store a verification result for a pact content and a provider version (201 HAL)."""
    if not body.provider_application_version.strip():
        raise invalid("providerApplicationVersion", "can't be blank")
    if body.build_url is not None and not body.build_url.startswith(("http://", "https://")):
        raise invalid("buildUrl", "must be a valid URL")
    wip = bool(decode_metadata(metadata).get("w")) if metadata else False
    with database.write() as connection:
        pact = pacts.find_pact_by_sha(connection, provider, consumer, sha)
        row = pacts.record_verification(
            connection,
            pact,
            pacts.VerificationInput(
                success=body.success,
                provider_version_number=body.provider_application_version,
                build_url=body.build_url,
                verified_by=body.verified_by,
                test_results=body.test_results,
                wip=wip,
            ),
        )
        document = rep.verification(urls, row)
        fired = (
            webhooks.trigger_for_verification(connection, urls.base, pact, row)
            if triggers.enabled
            else []
        )
    triggers.submit(fired)
    return HalResponse(document, status_code=201)


@router.get(INTEGRATION + "/pact-version/{sha:seg}/verification-results/{verification_id}")
def get_verification_result(
    provider: str,
    consumer: str,
    sha: str,
    verification_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    database: DatabaseDep,
    urls: UrlsDep,
) -> dict[str, Any]:
    with database.read() as connection:
        row = pacts.require_verification(connection, verification_id)
        if (row["provider_name"], row["consumer_name"], row["sha"]) != (provider, consumer, sha):
            raise NotFound(f"Verification result {verification_id}")
        return rep.verification(urls, row)


@router.get("/pacts/latest")
def latest_pacts(database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    """The newest pact of every integration (`pact-broker list-latest-pact-versions`)."""
    with database.read() as connection:
        rows = pacts.latest_pacts(connection)
    return {
        "pacts": [rep.pact_summary(urls, row) for row in rows],
        "_links": {"self": link(f"{urls.base}/pacts/latest")},
    }


@router.get("/pacts/provider/{provider:seg}/for-verification")
def for_verification_get(
    provider: str, request: Request, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    """The default selection; the verifier only reads `_links.self` here, then POSTs to it."""
    return _for_verification(
        provider, PactsForVerificationQuery(), str(request.url), database, urls
    )


@router.post("/pacts/provider/{provider:seg}/for-verification")
def for_verification_post(
    provider: str,
    body: PactsForVerificationQuery,
    request: Request,
    database: DatabaseDep,
    urls: UrlsDep,
) -> dict[str, Any]:
    """The pacts a provider version should verify, for the selectors, pending and WIP options."""
    return _for_verification(provider, body, str(request.url), database, urls)


def _for_verification(
    provider: str,
    query: PactsForVerificationQuery,
    self_href: str,
    database: DatabaseDep,
    urls: UrlsDep,
) -> dict[str, Any]:
    with database.read() as connection:
        errors = selector_module.validate(query, connection)
        if errors:
            raise ValidationError(errors)
        provider_row = repository.require_pacticipant(connection, provider)
        return pacts_for_verification(connection, urls, provider_row, query, self_href)
