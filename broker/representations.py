"""HAL+JSON representations of pacticipants, versions, environments, deployments and pacts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from broker import repository
from broker.hal import HAL_JSON, Urls, link

if TYPE_CHECKING:
    import sqlite3


class JsonResponse(JSONResponse):
    """JSON that always renders: text with a lone surrogate falls back to ASCII escapes."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


class HalResponse(JsonResponse):
    media_type = HAL_JSON


def pacticipant(urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    name = row["name"]
    base = urls.pacticipant(name)
    return {
        "name": name,
        "displayName": row["display_name"],
        "mainBranch": row["main_branch"],
        "repositoryUrl": row["repository_url"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "_links": {
            "self": link(base, name=name),
            "pb:versions": link(f"{base}/versions"),
            "pb:version": link(
                f"{base}/versions/{{version}}",
                title="Get, create or delete a pacticipant version",
                templated=True,
            ),
            "pb:version-tag": link(
                f"{base}/versions/{{version}}/tags/{{tag}}",
                title="Get, create or delete a tag for a version",
                templated=True,
            ),
            "pb:branch-version": link(
                f"{base}/branches/{{branch}}/versions/{{version}}",
                title="Get or add/create a version for a branch",
                templated=True,
            ),
            "pb:latest-version": link(f"{base}/latest-version", title="Latest version"),
            "pb:latest-tagged-version": link(f"{base}/latest-version/{{tag}}", templated=True),
            # The real broker's templates (pact_broker_urls.rb); both answer an SVG badge.
            "pb:can-i-deploy-badge": link(
                f"{base}/latest-version/{{tag}}/can-i-deploy/to/{{environmentTag}}/badge",
                title=f"Can I Deploy {name} badge",
                templated=True,
            ),
            "pb:can-i-deploy-branch-to-environment-badge": link(
                f"{base}/branches/{{branch}}/latest-version/can-i-deploy/to-environment/"
                "{environment}/badge",
                title=f"Can I Deploy {name} from branch to environment badge",
                templated=True,
            ),
        },
    }


def version(
    connection: sqlite3.Connection, urls: Urls, pacticipant_name: str, row: sqlite3.Row
) -> dict[str, Any]:
    number = row["number"]
    branches = repository.version_branch_names(connection, row["id"])
    tags = repository.version_tags(connection, row["id"])
    deployed, released = repository.version_environments(connection, row["id"])
    environments = repository.list_environments(connection)
    base = urls.version(pacticipant_name, number)
    return {
        "number": number,
        "buildUrl": row["build_url"],
        "createdAt": row["created_at"],
        "_embedded": {
            "branchVersions": [
                {
                    "name": name,
                    "_links": {"self": link(urls.branch_version(pacticipant_name, name, number))},
                }
                for name in branches
            ],
            "tags": [tag_body(urls, pacticipant_name, number, tag) for tag in tags],
        },
        "_links": {
            "self": link(base, title="Version", name=number),
            "pb:pacticipant": link(
                urls.pacticipant(pacticipant_name), title="Pacticipant", name=pacticipant_name
            ),
            "pb:tag": link(
                f"{base}/tags/{{tag}}",
                title="Get, create or delete a tag for this pacticipant version",
                templated=True,
            ),
            "pb:deployed-environments": [
                link(
                    urls.environment(env["uuid"]),
                    title=env["display_name"] or env["name"],
                    name=env["name"],
                )
                for env in deployed
            ],
            "pb:released-environments": [
                link(
                    urls.environment(env["uuid"]),
                    title=env["display_name"] or env["name"],
                    name=env["name"],
                )
                for env in released
            ],
            "pb:record-deployment": [
                link(
                    urls.record_deployment(pacticipant_name, number, env["uuid"]),
                    title=f"Record deployment to {env['display_name'] or env['name']}",
                    name=env["name"],
                )
                for env in environments
            ],
            "pb:record-release": [
                link(
                    urls.record_release(pacticipant_name, number, env["uuid"]),
                    title=f"Record release to {env['display_name'] or env['name']}",
                    name=env["name"],
                )
                for env in environments
            ],
        },
    }


def tag_body(urls: Urls, pacticipant_name: str, number: str, tag: sqlite3.Row) -> dict[str, Any]:
    return {
        "name": tag["name"],
        "createdAt": tag["created_at"],
        "_links": {
            "self": link(
                urls.tag(pacticipant_name, number, tag["name"]), title="Tag", name=tag["name"]
            )
        },
    }


def environment(urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "name": row["name"],
        "displayName": row["display_name"],
        "production": bool(row["production"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "_links": {
            "self": link(urls.environment(row["uuid"]), title="Environment", name=row["name"]),
            # Followed by the Ruby client's record-undeployment and record-support-ended.
            "pb:currently-deployed-deployed-versions": link(
                f"{urls.environment(row['uuid'])}/deployed-versions/currently-deployed",
                title=f"Versions currently deployed to {row['display_name'] or row['name']}",
            ),
            "pb:currently-supported-released-versions": link(
                f"{urls.environment(row['uuid'])}/released-versions/currently-supported",
                title=f"Versions released and supported in {row['display_name'] or row['name']}",
            ),
            "pb:environments": link(f"{urls.base}/environments", title="Environments"),
        },
    }


def deployment(connection: sqlite3.Connection, urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    body = _environment_entry(connection, urls, row, urls.deployed_version(row["uuid"]))
    body |= {
        "currentlyDeployed": row["undeployed_at"] is None,
        "applicationInstance": row["application_instance"],
        # `target` is the old name of applicationInstance; clients still read it.
        "target": row["application_instance"],
        "undeployedAt": row["undeployed_at"],
    }
    return body


def release(connection: sqlite3.Connection, urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    body = _environment_entry(connection, urls, row, urls.released_version(row["uuid"]))
    body |= {
        "currentlySupported": row["support_ended_at"] is None,
        "supportEndedAt": row["support_ended_at"],
    }
    return body


def _environment_entry(
    connection: sqlite3.Connection, urls: Urls, row: sqlite3.Row, href: str
) -> dict[str, Any]:
    version_row = connection.execute(
        "SELECT * FROM versions WHERE id = ?", (row["version_id"],)
    ).fetchone()
    pacticipant_row = connection.execute(
        "SELECT * FROM pacticipants WHERE id = ?", (row["pacticipant_id"],)
    ).fetchone()
    environment_row = connection.execute(
        "SELECT * FROM environments WHERE id = ?", (row["environment_id"],)
    ).fetchone()
    name, number = pacticipant_row["name"], version_row["number"]
    return {
        "uuid": row["uuid"],
        "createdAt": row["created_at"],
        "_embedded": {
            "pacticipant": {"name": name, "_links": {"self": link(urls.pacticipant(name))}},
            "version": {"number": number, "_links": {"self": link(urls.version(name, number))}},
            "environment": environment(urls, environment_row),
        },
        "_links": {"self": link(href)},
    }


def pact_document(
    urls: Urls, row: sqlite3.Row, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The stored pact with the links the verifier follows to publish results.

    The metadata of the URL it was fetched by (WIP, consumer versions) goes into the results
    link, so the broker knows in what capacity the pact was verified.
    """
    provider, consumer, sha = row["provider_name"], row["consumer_name"], row["sha"]
    document: dict[str, Any] = json.loads(row["content"])
    document["createdAt"] = row["created_at"]
    document["_links"] = {
        "self": link(
            urls.pact(provider, consumer, row["consumer_version_number"]),
            title="Pact",
            name=pact_name(row),
        ),
        "pb:consumer": link(urls.pacticipant(consumer), title="Consumer", name=consumer),
        "pb:consumer-version": link(
            urls.version(consumer, row["consumer_version_number"]),
            title="Consumer version",
            name=row["consumer_version_number"],
        ),
        "pb:provider": link(urls.pacticipant(provider), title="Provider", name=provider),
        "pb:pact-version": link(
            urls.pact_version(provider, consumer, sha),
            title="Pact content version permalink",
            name=sha,
        ),
        "pb:latest-pact-version": link(
            f"{urls.integration(provider, consumer)}/latest", title="Latest version of this pact"
        ),
        "pb:publish-verification-results": link(
            urls.verification_results(provider, consumer, sha, metadata),
            title="Publish verification results",
        ),
        "pb:diff-previous-distinct": link(
            urls.pact(provider, consumer, row["consumer_version_number"])
            + "/diff/previous-distinct",
            title="Diff with previous distinct version of this pact",
        ),
        "pb:latest-verification-results": link(
            urls.verification_results(provider, consumer, sha) + "/latest"
        ),
        "pb:matrix-for-consumer-version": link(
            f"{urls.base}/matrix?q[][pacticipant]={consumer}&q[][version]={row['consumer_version_number']}&latestby=cvpv",
            title="View matrix rows for the consumer version to which this pact belongs",
        ),
    }
    return document


def pact_name(row: sqlite3.Row) -> str:
    consumer, number = row["consumer_name"], row["consumer_version_number"]
    return f"Pact between {consumer} ({number}) and {row['provider_name']}"


def pact_summary(urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    """A pact in a list (`/pacts/latest`): what `list-latest-pact-versions` prints."""
    consumer, provider, number = (
        row["consumer_name"],
        row["provider_name"],
        row["consumer_version_number"],
    )
    return {
        "createdAt": row["created_at"],
        "_embedded": {
            "consumer": {
                "name": consumer,
                "_links": {"self": link(urls.pacticipant(consumer))},
                "_embedded": {
                    "version": {
                        "number": number,
                        "_links": {"self": link(urls.version(consumer, number))},
                    }
                },
            },
            "provider": {"name": provider, "_links": {"self": link(urls.pacticipant(provider))}},
        },
        "_links": {
            "self": [link(urls.pact(provider, consumer, number), title="Pact", name=pact_name(row))]
        },
    }


def verification(urls: Urls, row: sqlite3.Row) -> dict[str, Any]:
    provider, consumer, sha = row["provider_name"], row["consumer_name"], row["sha"]
    return {
        "providerName": provider,
        "providerApplicationVersion": row["provider_version_number"],
        "success": bool(row["success"]),
        "verificationDate": row["created_at"],
        "buildUrl": row["build_url"],
        "testResults": json.loads(row["test_results"]) if row["test_results"] else None,
        "verifiedBy": json.loads(row["verified_by"]) if row["verified_by"] else None,
        "_links": {
            "self": link(
                urls.verification_result(provider, consumer, sha, row["id"]),
                title="Verification result",
            ),
            "pb:pact-version": link(
                urls.pact_version(provider, consumer, sha), title="Pact", name=sha
            ),
            "pb:provider-version": link(
                urls.version(provider, row["provider_version_number"]),
                name=row["provider_version_number"],
            ),
        },
    }
