"""The provider-state vocabulary: every state the consumers' pacts may name.

Adding a state is one decorated function here; nothing in `providers/` changes. The store
is empty when a setup starts (see the reset rule in `states.registry`), except for what
earlier states of the same interaction put there.

    @PROVIDER_STATES.state("a user exists")
    def a_user_exists(store: StateStore, *, id: int, name: str = "...") -> None: ...

    @a_user_exists.teardown           # optional
    def _(store: StateStore, *, id: int, name: str = "...") -> None: ...
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from states.registry import StateRegistry
from states.users import NewUser, StateStore, User

if TYPE_CHECKING:
    from states.registry import InjectedValues

PROVIDER_STATES = StateRegistry()

VERNA_HAMPTON = User(
    id=123,
    name="Verna Hampton",
    created_on=datetime(2016, 12, 15, 20, 16, 1, tzinfo=UTC),
    email="verna.hampton@example.com",
    ip_address="192.0.2.123",
    hobbies=("hiking", "swimming"),
    admin=False,
)


def sample_user(user_id: int, name: str) -> User:
    """A complete user for states that only care about the id (and perhaps the name)."""
    return User(
        id=user_id,
        name=name,
        created_on=datetime(2020, 1, 1, 12, 0, 0, tzinfo=UTC),
        email=None,
        ip_address="192.0.2.1",
        hobbies=(),
        admin=False,
    )


@PROVIDER_STATES.state("")
def no_provider_state(store: StateStore) -> None:
    """An interaction without provider states: the empty store."""


@PROVIDER_STATES.state("user 123 exists")
def user_123_exists(store: StateStore) -> None:
    store.put(VERNA_HAMPTON)


@PROVIDER_STATES.state("user 123 doesn't exist")
def user_123_does_not_exist(store: StateStore) -> None:
    store.delete(VERNA_HAMPTON.id)


# "create user 124" and "delete the user 124" are kept for the pacts published before the
# consumer took ids from "a user was created": a broker may still select those.
@PROVIDER_STATES.state("create user 124")
def create_user_124(store: StateStore) -> None:
    """The next user created gets id 124."""
    store.delete(124)
    store.set_next_id(124)


@PROVIDER_STATES.state("delete the user 124")
def delete_the_user_124(store: StateStore) -> None:
    """User 124 exists, so it can be deleted."""
    store.put(sample_user(124, "Delia Fairbanks"))


@PROVIDER_STATES.state("a user exists")
def a_user_exists(store: StateStore, *, id: int, name: str = "Verna Hampton") -> None:
    """A user with this id (and name) exists. `id` is the pact's own name for the param."""
    store.put(sample_user(id, name))


@PROVIDER_STATES.state("a user was created")
def a_user_was_created(store: StateStore, *, name: str = "Delia Fairbanks") -> InjectedValues:
    """A user created through the store, whatever id it got: the id goes back to the verifier,
    which puts it where the pact says (`generate.provider_state("/users/${id}")`)."""
    user = store.add(NewUser(name=name, created_on=datetime(2020, 1, 1, 12, 0, 0, tzinfo=UTC)))
    return {"id": user.id}
