"""Queries and writes for pacticipants, versions, branches, tags, environments and deployments.

Every function takes the connection of the transaction it runs in (see `db.Database`), so a
service can combine several of them atomically.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from broker.db import now
from broker.errors import NotFound

if TYPE_CHECKING:
    import sqlite3

# Defaults of the real broker (pact_broker `lib/pact_broker/config/runtime_configuration.rb`):
# a new branch with one of these names becomes the pacticipant's main branch if it has none.
MAIN_BRANCH_CANDIDATES = ("develop", "main", "master")
# A version tagged within this time of its creation, and with no branch, takes the tag as branch
# (`use_first_tag_as_branch`, `use_first_tag_as_branch_time_limit`).
FIRST_TAG_AS_BRANCH_WINDOW = timedelta(seconds=10)


# --- pacticipants ---------------------------------------------------------------------------


def find_pacticipant(connection: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM pacticipants WHERE name = ?", (name,)
    ).fetchone()
    return row


def require_pacticipant(connection: sqlite3.Connection, name: str) -> sqlite3.Row:
    pacticipant = find_pacticipant(connection, name)
    if pacticipant is None:
        raise NotFound(f"Pacticipant '{name}'")
    return pacticipant


def ensure_pacticipant(connection: sqlite3.Connection, name: str) -> sqlite3.Row:
    """The pacticipant of that name, created if it does not exist yet."""
    connection.execute(
        "INSERT INTO pacticipants (name, created_at, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO NOTHING",
        (name, now(), now()),
    )
    return require_pacticipant(connection, name)


def update_pacticipant(
    connection: sqlite3.Connection, name: str, changes: dict[str, str | None]
) -> sqlite3.Row:
    """Create or update a pacticipant; `changes` maps column names to new values."""
    pacticipant = ensure_pacticipant(connection, name)
    for column, value in changes.items():
        if column not in ("display_name", "main_branch", "repository_url"):
            raise ValueError(column)
        connection.execute(
            f"UPDATE pacticipants SET {column} = ?, updated_at = ? WHERE id = ?",
            (value, now(), pacticipant["id"]),
        )
    return require_pacticipant(connection, name)


def list_pacticipants(connection: sqlite3.Connection) -> list[sqlite3.Row]:
    return connection.execute("SELECT * FROM pacticipants ORDER BY name").fetchall()


def delete_pacticipant(connection: sqlite3.Connection, name: str) -> None:
    """Delete a pacticipant and everything that hangs off it (as the real broker's DELETE)."""
    pacticipant_id = require_pacticipant(connection, name)["id"]
    own_versions = "SELECT id FROM versions WHERE pacticipant_id = :id"
    own_pacts = "SELECT id FROM pact_versions WHERE consumer_id = :id OR provider_id = :id"
    for statement in (
        f"DELETE FROM verifications WHERE pact_version_id IN ({own_pacts})"
        f" OR provider_version_id IN ({own_versions})",
        "DELETE FROM pact_publications WHERE consumer_id = :id OR provider_id = :id",
        "DELETE FROM pact_versions WHERE consumer_id = :id OR provider_id = :id",
        "DELETE FROM deployed_versions WHERE pacticipant_id = :id",
        "DELETE FROM released_versions WHERE pacticipant_id = :id",
        "DELETE FROM tags WHERE pacticipant_id = :id",
        f"DELETE FROM branch_versions WHERE version_id IN ({own_versions})",
        "DELETE FROM branches WHERE pacticipant_id = :id",
        "DELETE FROM versions WHERE pacticipant_id = :id",
        "DELETE FROM pacticipants WHERE id = :id",
    ):
        connection.execute(statement, {"id": pacticipant_id})


# --- versions, branches, tags ---------------------------------------------------------------


def find_version(
    connection: sqlite3.Connection, pacticipant_id: int, number: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM versions WHERE pacticipant_id = ? AND number = ?", (pacticipant_id, number)
    ).fetchone()
    return row


def require_version(
    connection: sqlite3.Connection, pacticipant_name: str, number: str
) -> sqlite3.Row:
    pacticipant = require_pacticipant(connection, pacticipant_name)
    version = find_version(connection, pacticipant["id"], number)
    if version is None:
        raise NotFound(f"Version '{number}' of '{pacticipant_name}'")
    return version


def ensure_version(
    connection: sqlite3.Connection, pacticipant_id: int, number: str, build_url: str | None = None
) -> tuple[sqlite3.Row, bool]:
    """The version, created if missing; the flag says whether it was created."""
    cursor = connection.execute(
        "INSERT INTO versions (pacticipant_id, number, build_url, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (pacticipant_id, number) DO NOTHING",
        (pacticipant_id, number, build_url, now()),
    )
    created = cursor.rowcount == 1
    if build_url is not None and not created:
        connection.execute(
            "UPDATE versions SET build_url = ? WHERE pacticipant_id = ? AND number = ?",
            (build_url, pacticipant_id, number),
        )
    version = find_version(connection, pacticipant_id, number)
    assert version is not None
    return version, created


def version_branch_names(connection: sqlite3.Connection, version_id: int) -> list[str]:
    return [
        row["name"]
        for row in connection.execute(
            "SELECT b.name FROM branch_versions bv JOIN branches b ON b.id = bv.branch_id"
            " WHERE bv.version_id = ? ORDER BY bv.created_at",
            (version_id,),
        )
    ]


def version_tags(connection: sqlite3.Connection, version_id: int) -> list[sqlite3.Row]:
    return connection.execute(
        "SELECT * FROM tags WHERE version_id = ? ORDER BY created_at, name", (version_id,)
    ).fetchall()


def find_branch(
    connection: sqlite3.Connection, pacticipant_id: int, name: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM branches WHERE pacticipant_id = ? AND name = ?", (pacticipant_id, name)
    ).fetchone()
    return row


def add_branch(connection: sqlite3.Connection, version: sqlite3.Row, branch_name: str) -> bool:
    """Put a version on a branch; returns whether it was new there.

    The branch head is the newest version (by order) on the branch, as with the real broker
    for versions published in order.
    """
    pacticipant_id = version["pacticipant_id"]
    connection.execute(
        "INSERT INTO branches (pacticipant_id, name, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (pacticipant_id, name) DO NOTHING",
        (pacticipant_id, branch_name, now()),
    )
    branch = find_branch(connection, pacticipant_id, branch_name)
    assert branch is not None
    cursor = connection.execute(
        "INSERT INTO branch_versions (branch_id, version_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (branch["id"], version["id"], now()),
    )
    connection.execute(
        "UPDATE branches SET head_version_id = MAX(COALESCE(head_version_id, 0), ?) WHERE id = ?",
        (version["id"], branch["id"]),
    )
    if branch_name in MAIN_BRANCH_CANDIDATES:
        connection.execute(
            "UPDATE pacticipants SET main_branch = ?, updated_at = ?"
            " WHERE id = ? AND main_branch IS NULL",
            (branch_name, now(), pacticipant_id),
        )
    return cursor.rowcount == 1


def add_tag(connection: sqlite3.Connection, version: sqlite3.Row, tag_name: str) -> bool:
    """Tag a version; returns whether the tag is new. Applies the real broker's tag defaults."""
    cursor = connection.execute(
        "INSERT INTO tags (version_id, name, pacticipant_id, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (version["id"], tag_name, version["pacticipant_id"], now()),
    )
    if cursor.rowcount != 1:
        return False
    created_at = datetime.fromisoformat(version["created_at"])
    recently_created = datetime.fromisoformat(now()) - created_at <= FIRST_TAG_AS_BRANCH_WINDOW
    if recently_created and not version_branch_names(connection, version["id"]):
        add_branch(connection, version, tag_name)
    environment = find_environment_by_name(connection, tag_name)
    if environment is not None:
        # `create_deployed_versions_for_tags`: a tag named like an environment is a deployment.
        record_deployment(connection, version, environment, None)
    return True


def latest_version(
    connection: sqlite3.Connection,
    pacticipant_id: int,
    *,
    tag: str | None = None,
    branch: str | None = None,
) -> sqlite3.Row | None:
    """The newest version of a pacticipant, optionally with a tag or on a branch."""
    if tag is not None:
        sql = (
            "SELECT v.* FROM versions v WHERE v.id = (SELECT MAX(version_id) FROM tags"
            " WHERE pacticipant_id = ? AND name = ?)"
        )
        parameters: tuple[object, ...] = (pacticipant_id, tag)
    elif branch is not None:
        sql = (
            "SELECT v.* FROM branches b JOIN versions v ON v.id = b.head_version_id"
            " WHERE b.pacticipant_id = ? AND b.name = ?"
        )
        parameters = (pacticipant_id, branch)
    else:
        sql = "SELECT * FROM versions WHERE pacticipant_id = ? ORDER BY id DESC LIMIT 1"
        parameters = (pacticipant_id,)
    row: sqlite3.Row | None = connection.execute(sql, parameters).fetchone()
    return row


def list_versions(connection: sqlite3.Connection, pacticipant_id: int) -> list[sqlite3.Row]:
    return connection.execute(
        "SELECT * FROM versions WHERE pacticipant_id = ? ORDER BY id DESC", (pacticipant_id,)
    ).fetchall()


# --- environments, deployments, releases ----------------------------------------------------


def list_environments(connection: sqlite3.Connection) -> list[sqlite3.Row]:
    return connection.execute("SELECT * FROM environments ORDER BY name").fetchall()


def find_environment_by_name(connection: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM environments WHERE name = ?", (name,)
    ).fetchone()
    return row


def require_environment(connection: sqlite3.Connection, environment_uuid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM environments WHERE uuid = ?", (environment_uuid,)
    ).fetchone()
    if row is None:
        raise NotFound(f"Environment '{environment_uuid}'")
    return row


def save_environment(
    connection: sqlite3.Connection,
    *,
    environment_uuid: str | None,
    name: str,
    display_name: str | None,
    production: bool,
) -> sqlite3.Row:
    """Create (no uuid given) or replace an environment."""
    if environment_uuid is None:
        environment_uuid = str(uuid.uuid4())
        connection.execute(
            "INSERT INTO environments (uuid, name, display_name, production, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (environment_uuid, name, display_name, production, now(), now()),
        )
    else:
        connection.execute(
            "UPDATE environments SET name = ?, display_name = ?, production = ?, updated_at = ?"
            " WHERE uuid = ?",
            (name, display_name, production, now(), environment_uuid),
        )
    return require_environment(connection, environment_uuid)


def delete_environment(connection: sqlite3.Connection, environment_uuid: str) -> None:
    environment = require_environment(connection, environment_uuid)
    for table in ("deployed_versions", "released_versions"):
        connection.execute(f"DELETE FROM {table} WHERE environment_id = ?", (environment["id"],))
    connection.execute("DELETE FROM environments WHERE id = ?", (environment["id"],))


def record_deployment(
    connection: sqlite3.Connection,
    version: sqlite3.Row,
    environment: sqlite3.Row,
    application_instance: str | None,
) -> sqlite3.Row:
    """Record a deployment; the version it replaces (same environment and instance) is undeployed.

    pact_broker `lib/pact_broker/deployments/deployed_version_service.rb` (create).
    """
    timestamp = now()
    connection.execute(
        "UPDATE deployed_versions SET undeployed_at = ? WHERE pacticipant_id = ?"
        " AND environment_id = ? AND application_instance IS ? AND undeployed_at IS NULL"
        " AND version_id != ?",
        (
            timestamp,
            version["pacticipant_id"],
            environment["id"],
            application_instance,
            version["id"],
        ),
    )
    existing: sqlite3.Row | None = connection.execute(
        "SELECT * FROM deployed_versions WHERE version_id = ? AND environment_id = ?"
        " AND application_instance IS ? AND undeployed_at IS NULL",
        (version["id"], environment["id"], application_instance),
    ).fetchone()
    if existing is not None:
        return existing
    deployment_uuid = str(uuid.uuid4())
    connection.execute(
        "INSERT INTO deployed_versions (uuid, version_id, pacticipant_id, environment_id,"
        " application_instance, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            deployment_uuid,
            version["id"],
            version["pacticipant_id"],
            environment["id"],
            application_instance,
            timestamp,
        ),
    )
    return require_deployment(connection, deployment_uuid)


def require_deployment(connection: sqlite3.Connection, deployment_uuid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM deployed_versions WHERE uuid = ?", (deployment_uuid,)
    ).fetchone()
    if row is None:
        raise NotFound(f"Deployed version '{deployment_uuid}'")
    return row


def undeploy(connection: sqlite3.Connection, deployment_uuid: str) -> sqlite3.Row:
    connection.execute(
        "UPDATE deployed_versions SET undeployed_at = ? WHERE uuid = ? AND undeployed_at IS NULL",
        (now(), deployment_uuid),
    )
    return require_deployment(connection, deployment_uuid)


def record_release(
    connection: sqlite3.Connection, version: sqlite3.Row, environment: sqlite3.Row
) -> tuple[sqlite3.Row, bool]:
    """Record a release (once per version and environment); the flag says whether it is new."""
    cursor = connection.execute(
        "INSERT INTO released_versions (uuid, version_id, pacticipant_id, environment_id,"
        " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (version_id, environment_id) DO NOTHING",
        (str(uuid.uuid4()), version["id"], version["pacticipant_id"], environment["id"], now()),
    )
    row: sqlite3.Row = connection.execute(
        "SELECT * FROM released_versions WHERE version_id = ? AND environment_id = ?",
        (version["id"], environment["id"]),
    ).fetchone()
    return row, cursor.rowcount == 1


def require_release(connection: sqlite3.Connection, release_uuid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        "SELECT * FROM released_versions WHERE uuid = ?", (release_uuid,)
    ).fetchone()
    if row is None:
        raise NotFound(f"Released version '{release_uuid}'")
    return row


def end_support(connection: sqlite3.Connection, release_uuid: str) -> sqlite3.Row:
    connection.execute(
        "UPDATE released_versions SET support_ended_at = ? WHERE uuid = ?"
        " AND support_ended_at IS NULL",
        (now(), release_uuid),
    )
    return require_release(connection, release_uuid)


def currently_deployed(
    connection: sqlite3.Connection, environment_id: int, pacticipant_name: str | None = None
) -> list[sqlite3.Row]:
    return connection.execute(
        "SELECT d.*, p.name AS pacticipant_name, v.number AS version_number"
        " FROM deployed_versions d JOIN pacticipants p ON p.id = d.pacticipant_id"
        " JOIN versions v ON v.id = d.version_id"
        " WHERE d.environment_id = ? AND d.undeployed_at IS NULL AND (? IS NULL OR p.name = ?)"
        " ORDER BY d.id",
        (environment_id, pacticipant_name, pacticipant_name),
    ).fetchall()


def currently_supported(
    connection: sqlite3.Connection, environment_id: int, pacticipant_name: str | None = None
) -> list[sqlite3.Row]:
    return connection.execute(
        "SELECT r.*, p.name AS pacticipant_name, v.number AS version_number"
        " FROM released_versions r JOIN pacticipants p ON p.id = r.pacticipant_id"
        " JOIN versions v ON v.id = r.version_id"
        " WHERE r.environment_id = ? AND r.support_ended_at IS NULL AND (? IS NULL OR p.name = ?)"
        " ORDER BY r.id",
        (environment_id, pacticipant_name, pacticipant_name),
    ).fetchall()


def version_environments(
    connection: sqlite3.Connection, version_id: int
) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
    """The environments a version is currently deployed to, and those it is released to."""
    deployed = connection.execute(
        "SELECT DISTINCT e.* FROM deployed_versions d JOIN environments e"
        " ON e.id = d.environment_id WHERE d.version_id = ? AND d.undeployed_at IS NULL",
        (version_id,),
    ).fetchall()
    released = connection.execute(
        "SELECT e.* FROM released_versions r JOIN environments e ON e.id = r.environment_id"
        " WHERE r.version_id = ? AND r.support_ended_at IS NULL",
        (version_id,),
    ).fetchall()
    return deployed, released
