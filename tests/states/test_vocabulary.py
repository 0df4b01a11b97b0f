"""The project's provider states do what their names promise, through the state handler."""

from __future__ import annotations

import json
import threading

import pytest

from states import (
    PROVIDER_STATES,
    VERNA_HAMPTON,
    InMemoryUserRepository,
    NewUser,
    StateChangeError,
    StateHandler,
)


@pytest.fixture
def store() -> InMemoryUserRepository:
    return InMemoryUserRepository()


@pytest.fixture
def handler(store: InMemoryUserRepository) -> StateHandler:
    return StateHandler(store, PROVIDER_STATES)


def setup(handler: StateHandler, state: str, **params: object) -> None:
    handler.handle(
        body=json.dumps({"action": "setup", "params": params, "state": state}).encode(), query=[]
    )


def test_the_vocabulary_has_the_seed_states_and_the_parameterised_one() -> None:
    assert {
        "",
        "user 123 exists",
        "user 123 doesn't exist",
        "create user 124",
        "delete the user 124",
        "a user exists",
        "a user was created",
    } <= set(PROVIDER_STATES)


def test_a_user_was_created_returns_the_id_the_user_got(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    store.set_next_id(500)  # forgotten: the first setup of an interaction resets the store
    injected = handler.handle(
        body=json.dumps({"action": "setup", "state": "a user was created"}).encode(), query=[]
    )
    assert injected == {"id": 1}
    user = store.get(1)
    assert user is not None
    assert user.name == "Delia Fairbanks"


def test_user_123_exists_is_verna_hampton(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    setup(handler, "user 123 exists")
    verna = store.get(123)
    assert verna == VERNA_HAMPTON
    assert verna.name == "Verna Hampton"
    assert verna.hobbies == ("hiking", "swimming")
    assert verna.created_on.utcoffset() is not None


def test_user_123_does_not_exist_even_after_another_state_put_it_there(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    setup(handler, "user 123 exists")
    setup(handler, "user 123 doesn't exist")
    assert 123 not in store


def test_create_user_124_makes_124_the_next_id(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    setup(handler, "create user 124")
    created = store.add(NewUser(name="New", created_on=VERNA_HAMPTON.created_on))
    assert created.id == 124


def test_delete_the_user_124_puts_a_deletable_user_124(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    setup(handler, "delete the user 124")
    assert 124 in store
    assert store.delete(124)


def test_a_user_exists_from_json_params(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    setup(handler, "a user exists", id=42, name="Ada Lovelace")
    ada = store.get(42)
    assert ada is not None
    assert ada.name == "Ada Lovelace"


def test_a_user_exists_from_query_string_params(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(
        body=b"",
        query=[("action", "setup"), ("id", "42"), ("name", "Ada"), ("state", "a user exists")],
    )
    ada = store.get(42)
    assert ada is not None
    assert ada.name == "Ada"


def test_a_user_exists_with_an_impossible_id_is_a_clear_refusal(handler: StateHandler) -> None:
    with pytest.raises(StateChangeError, match="user ids run from 1"):
        setup(handler, "a user exists", id=-5)


def test_state_changes_and_readers_on_other_threads_never_see_a_mixed_store(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    """The verifier changes states on one server thread while requests run on others."""
    stop = threading.Event()
    seen_broken: list[str] = []

    def read() -> None:
        while not stop.is_set():
            verna, other = store.get(123), store.get(42)
            if verna is not None and verna != VERNA_HAMPTON:
                seen_broken.append(repr(verna))
            if other is not None and other.name != "Ada":
                seen_broken.append(repr(other))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(300):
            setup(handler, "user 123 exists")
            setup(handler, "a user exists", id=42, name="Ada")
            handler.handle(
                body=b'{"action":"teardown","params":{},"state":"user 123 exists"}', query=[]
            )
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert seen_broken == []
    assert len(store) == 0
