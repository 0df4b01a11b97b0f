"""Pacticipants, versions, branches, tags, environments, deployments and releases."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from broker import repository
from broker import representations as rep
from broker.deps import DatabaseDep, UrlsDep
from broker.errors import BrokerError, Conflict, NotFound, invalid
from broker.hal import Urls, link
from broker.models import (
    CurrentlyDeployedChange,
    CurrentlySupportedChange,
    DeploymentBody,
    EnvironmentBody,
    PacticipantChanges,
    VersionChanges,
)
from broker.representations import HalResponse
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)

PACTICIPANT = "/pacticipants/{pacticipant:seg}"
VERSION = PACTICIPANT + "/versions/{version:seg}"

OptionalBody = Annotated[dict[str, Any] | None, Body()]


def _not_blank(field: str, value: str) -> None:
    if not value.strip():
        raise invalid(field, "can't be blank")


# --- pacticipants ---------------------------------------------------------------------------


@router.get("/pacticipants")
def list_pacticipants(database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        rows = repository.list_pacticipants(connection)
    items = [rep.pacticipant(urls, row) for row in rows]
    return {
        "_embedded": {"pacticipants": items},
        "_links": {
            "self": link(f"{urls.base}/pacticipants"),
            "pacticipants": [item["_links"]["self"] for item in items],
        },
    }


def _changes(body: PacticipantChanges) -> dict[str, str | None]:
    fields = {"display_name", "main_branch", "repository_url"} & body.model_fields_set
    return {name: getattr(body, name) for name in sorted(fields)}


@router.post("/pacticipants", status_code=201)
def create_pacticipant(
    body: PacticipantChanges, database: DatabaseDep, urls: UrlsDep
) -> HalResponse:
    if body.name is None:
        raise invalid("name", "is missing")
    _not_blank("name", body.name)
    with database.write() as connection:
        if repository.find_pacticipant(connection, body.name) is not None:
            raise Conflict({"name": [f"A pacticipant with name '{body.name}' already exists"]})
        row = repository.update_pacticipant(connection, body.name, _changes(body))
    return HalResponse(rep.pacticipant(urls, row), status_code=201)


@router.get(PACTICIPANT)
def get_pacticipant(pacticipant: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        return rep.pacticipant(urls, repository.require_pacticipant(connection, pacticipant))


@router.put(PACTICIPANT)
@router.patch(PACTICIPANT)
def update_pacticipant(
    pacticipant: str, body: PacticipantChanges, database: DatabaseDep, urls: UrlsDep
) -> HalResponse:
    _not_blank("name", pacticipant)
    if body.name is not None and body.name != pacticipant:
        raise invalid("name", "cannot be changed (it must match the name in the URL)")
    with database.write() as connection:
        existed = repository.find_pacticipant(connection, pacticipant) is not None
        row = repository.update_pacticipant(connection, pacticipant, _changes(body))
    return HalResponse(rep.pacticipant(urls, row), status_code=200 if existed else 201)


@router.delete(PACTICIPANT)
def delete_pacticipant(pacticipant: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    # The real broker answers 204; an empty answer is an error for the Rust clients, so 200 JSON.
    with database.write() as connection:
        repository.delete_pacticipant(connection, pacticipant)
    return {
        "deleted": pacticipant,
        "_links": {"pb:pacticipants": link(f"{urls.base}/pacticipants")},
    }


# --- versions -------------------------------------------------------------------------------


@router.get(PACTICIPANT + "/versions")
def list_versions(
    pacticipant: str,
    database: DatabaseDep,
    urls: UrlsDep,
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with database.read() as connection:
        row = repository.require_pacticipant(connection, pacticipant)
        versions = [
            rep.version(connection, urls, pacticipant, v)
            for v in repository.list_versions(connection, row["id"])[:size]
        ]
    return {
        "_embedded": {"versions": versions},
        "_links": {"self": link(f"{urls.pacticipant(pacticipant)}/versions")},
    }


@router.get(VERSION)
def get_version(
    pacticipant: str, version: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        return rep.version(
            connection,
            urls,
            pacticipant,
            repository.require_version(connection, pacticipant, version),
        )


@router.put(VERSION)
def put_version(
    pacticipant: str,
    version: str,
    database: DatabaseDep,
    urls: UrlsDep,
    body: Annotated[VersionChanges | None, Body()] = None,
) -> HalResponse:
    _not_blank("version", version)
    with database.write() as connection:
        pacticipant_row = repository.ensure_pacticipant(connection, pacticipant)
        row, created = repository.ensure_version(
            connection, pacticipant_row["id"], version, body.build_url if body else None
        )
        return HalResponse(
            rep.version(connection, urls, pacticipant, row), status_code=201 if created else 200
        )


@router.get(PACTICIPANT + "/latest-version")
@router.get(PACTICIPANT + "/latest-version/{tag:seg}")
def get_latest_version(
    pacticipant: str, database: DatabaseDep, urls: UrlsDep, tag: str | None = None
) -> dict[str, Any]:
    with database.read() as connection:
        pacticipant_row = repository.require_pacticipant(connection, pacticipant)
        row = repository.latest_version(connection, pacticipant_row["id"], tag=tag)
        if row is None:
            raise NotFound(f"A version of '{pacticipant}'" + (f" with tag '{tag}'" if tag else ""))
        return rep.version(connection, urls, pacticipant, row)


# --- tags and branches ----------------------------------------------------------------------


@router.put(VERSION + "/tags/{tag:seg}")
def put_tag(
    pacticipant: str,
    version: str,
    tag: str,
    database: DatabaseDep,
    urls: UrlsDep,
    body: OptionalBody = None,
) -> HalResponse:
    _not_blank("version", version)
    _not_blank("tag", tag)
    with database.write() as connection:
        pacticipant_row = repository.ensure_pacticipant(connection, pacticipant)
        version_row, _ = repository.ensure_version(connection, pacticipant_row["id"], version)
        created = repository.add_tag(connection, version_row, tag)
        tag_row = next(
            t for t in repository.version_tags(connection, version_row["id"]) if t["name"] == tag
        )
    return HalResponse(
        rep.tag_body(urls, pacticipant, version, tag_row), status_code=201 if created else 200
    )


@router.get(VERSION + "/tags/{tag:seg}")
def get_tag(
    pacticipant: str, version: str, tag: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        version_row = repository.require_version(connection, pacticipant, version)
        for tag_row in repository.version_tags(connection, version_row["id"]):
            if tag_row["name"] == tag:
                return rep.tag_body(urls, pacticipant, version, tag_row)
    raise NotFound(f"Tag '{tag}' of {pacticipant} version {version}")


@router.put(PACTICIPANT + "/branches/{branch:seg}/versions/{version:seg}")
def put_branch_version(
    pacticipant: str,
    branch: str,
    version: str,
    database: DatabaseDep,
    urls: UrlsDep,
    body: OptionalBody = None,
) -> HalResponse:
    _not_blank("branch", branch)
    _not_blank("version", version)
    with database.write() as connection:
        pacticipant_row = repository.ensure_pacticipant(connection, pacticipant)
        version_row, _ = repository.ensure_version(connection, pacticipant_row["id"], version)
        created = repository.add_branch(connection, version_row, branch)
        body_out = _branch_version(connection, urls, pacticipant, branch, version_row)
    return HalResponse(body_out, status_code=201 if created else 200)


@router.get(PACTICIPANT + "/branches/{branch:seg}/versions/{version:seg}")
def get_branch_version(
    pacticipant: str, branch: str, version: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        version_row = repository.require_version(connection, pacticipant, version)
        if branch not in repository.version_branch_names(connection, version_row["id"]):
            raise NotFound(f"Version {version} of {pacticipant} on branch '{branch}'")
        return _branch_version(connection, urls, pacticipant, branch, version_row)


def _branch_version(
    connection: sqlite3.Connection,
    urls: Urls,
    pacticipant: str,
    branch: str,
    version_row: sqlite3.Row,
) -> dict[str, Any]:
    number = version_row["number"]
    return {
        "name": branch,
        "_embedded": {"version": rep.version(connection, urls, pacticipant, version_row)},
        "_links": {
            "self": link(
                urls.branch_version(pacticipant, branch, number),
                title="Branch version",
                name=number,
            ),
            "pb:branch": link(urls.branch(pacticipant, branch), name=branch),
            "pb:version": link(urls.version(pacticipant, number), name=number),
        },
    }


@router.get(PACTICIPANT + "/branches/{branch:seg}")
def get_branch(
    pacticipant: str, branch: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        pacticipant_row = repository.require_pacticipant(connection, pacticipant)
        row = repository.find_branch(connection, pacticipant_row["id"], branch)
        if row is None:
            raise NotFound(f"Branch '{branch}' of {pacticipant}")
        head = repository.latest_version(connection, pacticipant_row["id"], branch=branch)
    return {
        "name": branch,
        "createdAt": row["created_at"],
        "latestVersion": head["number"] if head else None,
        "_links": {
            "self": link(urls.branch(pacticipant, branch), name=branch),
            "pb:latest-version": link(urls.version(pacticipant, head["number"])) if head else None,
            "pb:pacticipant": link(urls.pacticipant(pacticipant), name=pacticipant),
        },
    }


# --- environments ---------------------------------------------------------------------------


@router.get("/environments")
def list_environments(
    database: DatabaseDep, urls: UrlsDep, name: str | None = None
) -> dict[str, Any]:
    with database.read() as connection:
        rows = [
            row
            for row in repository.list_environments(connection)
            if name is None or row["name"] == name
        ]
    return {
        "_embedded": {"environments": [rep.environment(urls, row) for row in rows]},
        "_links": {
            "self": link(f"{urls.base}/environments", title="Environments"),
            "pb:environments": [
                link(urls.environment(row["uuid"]), title="Environment", name=row["name"])
                for row in rows
            ],
        },
    }


def _validate_environment(body: EnvironmentBody) -> None:
    _not_blank("name", body.name)
    if any(char.isspace() for char in body.name):
        raise invalid("name", "cannot contain spaces")


@router.post("/environments", status_code=201)
def create_environment(body: EnvironmentBody, database: DatabaseDep, urls: UrlsDep) -> HalResponse:
    _validate_environment(body)
    with database.write() as connection:
        if repository.find_environment_by_name(connection, body.name) is not None:
            raise Conflict(
                {"name": [f"Another environment with name '{body.name}' already exists."]}
            )
        row = repository.save_environment(
            connection,
            environment_uuid=None,
            name=body.name,
            display_name=body.display_name,
            production=body.production,
        )
    return HalResponse(rep.environment(urls, row), status_code=201)


@router.get("/environments/{uuid:seg}")
def get_environment(uuid: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        return rep.environment(urls, repository.require_environment(connection, uuid))


@router.put("/environments/{uuid:seg}")
def update_environment(
    uuid: str, body: EnvironmentBody, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    _validate_environment(body)
    with database.write() as connection:
        repository.require_environment(connection, uuid)
        other = repository.find_environment_by_name(connection, body.name)
        if other is not None and other["uuid"] != uuid:
            raise Conflict(
                {"name": [f"Another environment with name '{body.name}' already exists."]}
            )
        row = repository.save_environment(
            connection,
            environment_uuid=uuid,
            name=body.name,
            display_name=body.display_name,
            production=body.production,
        )
    return rep.environment(urls, row)


@router.delete("/environments/{uuid:seg}")
def delete_environment(uuid: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.write() as connection:
        repository.delete_environment(connection, uuid)
    return {"deleted": uuid, "_links": {"pb:environments": link(f"{urls.base}/environments")}}


@router.get("/environments/{uuid:seg}/deployed-versions/currently-deployed")
def currently_deployed(
    uuid: str, database: DatabaseDep, urls: UrlsDep, pacticipant: str | None = None
) -> dict[str, Any]:
    with database.read() as connection:
        environment = repository.require_environment(connection, uuid)
        rows = repository.currently_deployed(connection, environment["id"], pacticipant)
        items = [rep.deployment(connection, urls, row) for row in rows]
    return {
        "_embedded": {"deployedVersions": items},
        "_links": {"self": link(f"{urls.environment(uuid)}/deployed-versions/currently-deployed")},
    }


@router.get("/environments/{uuid:seg}/released-versions/currently-supported")
def currently_supported(
    uuid: str,
    database: DatabaseDep,
    urls: UrlsDep,
    pacticipant: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    with database.read() as connection:
        environment = repository.require_environment(connection, uuid)
        rows = repository.currently_supported(connection, environment["id"], pacticipant)
        rows = [row for row in rows if version is None or row["version_number"] == version]
        items = [rep.release(connection, urls, row) for row in rows]
    return {
        "_embedded": {"releasedVersions": items},
        "_links": {"self": link(f"{urls.environment(uuid)}/released-versions/currently-supported")},
    }


# --- deployments and releases ---------------------------------------------------------------


@router.post(VERSION + "/deployed-versions/environment/{uuid:seg}", status_code=201)
def record_deployment(
    pacticipant: str,
    version: str,
    uuid: str,
    database: DatabaseDep,
    urls: UrlsDep,
    body: Annotated[DeploymentBody | None, Body()] = None,
) -> HalResponse:
    """Record a deployment; the version it replaces (environment and instance) is undeployed."""
    instance = (body.application_instance or body.target) if body else None
    with database.write() as connection:
        version_row = repository.require_version(connection, pacticipant, version)
        environment = repository.require_environment(connection, uuid)
        row = repository.record_deployment(connection, version_row, environment, instance or None)
        return HalResponse(rep.deployment(connection, urls, row), status_code=201)


@router.post(VERSION + "/released-versions/environment/{uuid:seg}", status_code=201)
def record_release(
    pacticipant: str,
    version: str,
    uuid: str,
    database: DatabaseDep,
    urls: UrlsDep,
    body: OptionalBody = None,
) -> HalResponse:
    with database.write() as connection:
        version_row = repository.require_version(connection, pacticipant, version)
        environment = repository.require_environment(connection, uuid)
        row, created = repository.record_release(connection, version_row, environment)
        return HalResponse(rep.release(connection, urls, row), status_code=201 if created else 200)


@router.get(VERSION + "/deployed-versions/environment/{uuid:seg}")
def version_deployments(
    pacticipant: str, version: str, uuid: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    with database.read() as connection:
        version_row = repository.require_version(connection, pacticipant, version)
        environment = repository.require_environment(connection, uuid)
        rows = [
            r
            for r in repository.currently_deployed(connection, environment["id"], pacticipant)
            if r["version_id"] == version_row["id"]
        ]
        return {
            "_embedded": {"deployedVersions": [rep.deployment(connection, urls, r) for r in rows]},
            "_links": {"self": link(urls.record_deployment(pacticipant, version, uuid))},
        }


@router.get("/deployed-versions/{uuid:seg}")
def get_deployment(uuid: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        return rep.deployment(connection, urls, repository.require_deployment(connection, uuid))


@router.patch("/deployed-versions/{uuid:seg}")
def change_deployment(
    uuid: str, body: CurrentlyDeployedChange, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    """Undeploy (`{"currentlyDeployed": false}`, what record-undeployment sends)."""
    if body.currently_deployed is True:
        raise BrokerError(
            {"currentlyDeployed": ["a deployment cannot be redeployed; record a new deployment"]}
        )
    with database.write() as connection:
        row = (
            repository.undeploy(connection, uuid)
            if body.currently_deployed is False
            else repository.require_deployment(connection, uuid)
        )
        return rep.deployment(connection, urls, row)


@router.get("/released-versions/{uuid:seg}")
def get_release(uuid: str, database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        return rep.release(connection, urls, repository.require_release(connection, uuid))


@router.patch("/released-versions/{uuid:seg}")
def change_release(
    uuid: str, body: CurrentlySupportedChange, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    """End support (`{"currentlySupported": false}`, what record-support-ended sends)."""
    if body.currently_supported is True:
        raise BrokerError(
            {"currentlySupported": ["support cannot be restarted; record a new release"]}
        )
    with database.write() as connection:
        row = (
            repository.end_support(connection, uuid)
            if body.currently_supported is False
            else repository.require_release(connection, uuid)
        )
        return rep.release(connection, urls, row)
