"""The state registry: declaring states, reading the verifier's requests, the reset rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from states import (
    InMemoryUserRepository,
    NewUser,
    StateChange,
    StateChangeError,
    StateFunctionFailed,
    StateHandler,
    StateRegistry,
    StateStore,
    User,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def user(user_id: int, name: str = "Someone") -> User:
    return User(id=user_id, name=name, created_on=CREATED)


def make_registry(calls: list[str] | None = None) -> StateRegistry:
    """A small vocabulary of its own, so these tests do not depend on the real one."""
    registry = StateRegistry()
    log = calls if calls is not None else []

    @registry.state("")
    def nothing(store: StateStore) -> None:
        log.append("setup ''")

    @registry.state("user 1 exists")
    def user_1(store: StateStore) -> None:
        log.append("setup user 1")
        store.put(user(1))

    @registry.state("a user exists")
    def a_user(store: StateStore, *, id: int, name: str = "Default") -> Mapping[str, object]:
        log.append(f"setup user {id}")
        store.put(user(id, name))
        return {"id": id}

    @a_user.teardown
    def _(store: StateStore, *, id: int, name: str = "Default") -> None:
        log.append(f"teardown user {id} (present: {id in store})")

    @registry.state("typed")
    def typed(
        store: StateStore, *, count: int, ratio: float, flag: bool, note: str | None = None
    ) -> Mapping[str, object]:
        return {"count": count, "ratio": ratio, "flag": flag, "note": note}

    @registry.state("broken")
    def broken(store: StateStore) -> None:
        store.put(user(7))
        raise RuntimeError("the database said no")

    @registry.state("broken teardown")
    def broken_teardown(store: StateStore) -> None:
        store.put(user(8))

    @broken_teardown.teardown
    def _(store: StateStore) -> None:
        raise KeyError("gone")

    return registry


def body(action: str, state: str, **params: object) -> bytes:
    return json.dumps({"action": action, "params": params, "state": state}).encode()


@pytest.fixture
def store() -> InMemoryUserRepository:
    return InMemoryUserRepository()


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def handler(store: InMemoryUserRepository, calls: list[str]) -> StateHandler:
    return StateHandler(store, make_registry(calls))


# -- Declaring states -------------------------------------------------------------------------


def test_a_state_name_can_be_registered_only_once() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="registered twice"):

        @registry.state("user 1 exists")
        def again(store: StateStore) -> None: ...


def test_registry_lists_its_states() -> None:
    assert list(make_registry()) == sorted(
        ["", "user 1 exists", "a user exists", "typed", "broken", "broken teardown"]
    )


def test_a_state_must_take_the_store_first() -> None:
    with pytest.raises(TypeError, match="store as its first parameter"):

        @StateRegistry().state("x")
        def no_store() -> None: ...


def test_a_state_parameter_needs_a_supported_annotation() -> None:
    with pytest.raises(TypeError, match="must be annotated"):

        @StateRegistry().state("x")
        def listy(store: StateStore, *, ids: list[int]) -> None: ...

    with pytest.raises(TypeError, match="must be annotated"):

        @StateRegistry().state("y")
        def bare(store: StateStore, *, ident) -> None: ...  # type: ignore[no-untyped-def]


def test_a_state_cannot_take_var_args() -> None:
    with pytest.raises(TypeError, match="named parameter"):

        @StateRegistry().state("x")
        def star(store: StateStore, *ids: int) -> None: ...


def test_a_teardown_must_take_the_setups_parameters() -> None:
    registry = StateRegistry()

    @registry.state("x")
    def setup(store: StateStore, *, id: int) -> None: ...

    with pytest.raises(TypeError, match="same parameters"):

        @setup.teardown
        def _(store: StateStore) -> None: ...


# -- Reading the verifier's requests ----------------------------------------------------------


def test_a_json_state_change_is_read_as_the_verifier_sends_it() -> None:
    change = StateChange.from_json(b'{"action":"setup","params":{"id":42},"state":"a user exists"}')
    assert change == StateChange(action="setup", state="a user exists", params={"id": 42})


def test_params_may_be_left_out_of_a_json_state_change() -> None:
    assert StateChange.from_json(b'{"action":"teardown","state":""}').params == {}


def test_a_query_state_change_keeps_everything_but_action_and_state_as_string_params() -> None:
    change = StateChange.from_query(
        [("action", "setup"), ("id", "42"), ("name", "Ann"), ("state", "a user exists")]
    )
    assert change == StateChange(
        action="setup",
        state="a user exists",
        params={"id": "42", "name": "Ann"},
        values_are_strings=True,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"action":"setup","state":"","params":{"x":NaN}}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'["setup"]', "must be a JSON object"),
        (b'"setup"', "must be a JSON object"),
        (b'{"params":{}}', 'missing "state"'),
        (b'{"state":"x","states":"x"}', '"states" must be a non-empty list of strings'),
        (b'{"state":"x","states":[]}', '"states" must be a non-empty list of strings'),
        (b'{"state":"x","states":["y"]}', '"state" "x" is not one of "states"'),
        (b'{"action":"setup","states":["x","y"]}', 'send it without "action"'),
        (b'{"action":"setup"}', 'missing "state"'),
        (b'{"action":"start","state":"x"}', '"action" must be "setup" or "teardown"'),
        (b'{"action":null,"state":"x"}', '"action" must be "setup" or "teardown"'),
        (b'{"action":"setup","state":123}', '"state" must be a string'),
        (b'{"action":"setup","state":"x","params":[1]}', '"params" must be a JSON object'),
        (b'{"action":"setup","state":"x","params":null}', '"params" must be a JSON object'),
    ],
)
def test_a_malformed_json_state_change_is_refused_with_the_reason(raw: bytes, message: str) -> None:
    with pytest.raises(StateChangeError, match=message):
        StateChange.from_json(raw)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([], 'missing "state"'),
        ([("action", "setup")], 'missing "state"'),
        ([("action", "nope"), ("state", "")], '"action" must be'),
        ([("action", "setup"), ("state", "a"), ("state", "b")], '"state" is given more than once'),
        ([("action", "setup"), ("state", "a"), ("id", "1"), ("id", "2")], '"id" is given more'),
    ],
)
def test_a_malformed_query_state_change_is_refused_with_the_reason(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(StateChangeError, match=message):
        StateChange.from_query(pairs)


# -- Parameters -------------------------------------------------------------------------------


def test_json_params_of_the_right_types_pass_through(handler: StateHandler) -> None:
    injected = handler.handle(
        body=body("setup", "typed", count=3, ratio=2, flag=False, note=None), query=[]
    )
    assert injected == {"count": 3, "ratio": 2, "flag": False, "note": None}


def test_query_params_are_converted_by_the_annotations(handler: StateHandler) -> None:
    query = [
        ("action", "setup"),
        ("state", "typed"),
        ("count", "-12"),
        ("ratio", "0.25"),
        ("flag", "TRUE"),
        ("note", "hi there"),
    ]
    assert handler.handle(body=b"", query=query) == {
        "count": -12,
        "ratio": 0.25,
        "flag": True,
        "note": "hi there",
    }


def test_a_default_fills_a_param_that_was_not_sent(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(body=body("setup", "a user exists", id=5), query=[])
    assert store.get(5) == user(5, "Default")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": "3", "ratio": 1, "flag": True}, '"count" must be an integer, got "3"'),
        ({"count": True, "ratio": 1, "flag": True}, '"count" must be an integer, got true'),
        ({"count": 1.5, "ratio": 1, "flag": True}, '"count" must be an integer, got 1.5'),
        ({"count": None, "ratio": 1, "flag": True}, '"count" must be an integer, got null'),
        ({"count": 1, "ratio": "1", "flag": True}, '"ratio" must be a number'),
        ({"count": 1, "ratio": 1, "flag": 1}, '"flag" must be a boolean, got 1'),
        ({"count": 1, "ratio": 1, "flag": True, "note": 5}, '"note" must be a string'),
        ({"count": 1, "ratio": 1}, 'needs parameter "flag"'),
        ({"count": 1, "ratio": 1, "flag": True, "colour": "red"}, 'take parameter "colour"'),
    ],
)
def test_bad_json_params_are_refused_naming_state_and_param(
    handler: StateHandler, params: dict[str, object], message: str
) -> None:
    with pytest.raises(StateChangeError, match=message) as refused:
        handler.handle(body=body("setup", "typed", **params), query=[])
    assert 'state "typed"' in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("count", "4.0", '"count" must be an integer, got "4.0"'),
        ("count", "", '"count" must be an integer, got ""'),
        ("count", "1" * 5000, '"count" must be an integer, got "1111'),
        ("count", "٣", '"count" must be an integer'),
        ("flag", "yes", '"flag" must be a boolean, got "yes"'),
        ("ratio", "lots", '"ratio" must be a number, got "lots"'),
    ],
)
def test_bad_query_params_are_refused_naming_the_param(
    handler: StateHandler, name: str, value: str, message: str
) -> None:
    query = {"action": "setup", "state": "typed", "count": "1", "ratio": "1", "flag": "true"}
    query[name] = value
    with pytest.raises(StateChangeError, match=message):
        handler.handle(body=b"", query=list(query.items()))


def test_unknown_state_is_refused_listing_the_known_ones(handler: StateHandler) -> None:
    with pytest.raises(StateChangeError) as refused:
        handler.handle(body=body("setup", "user 2 exists"), query=[])
    assert str(refused.value) == (
        'unknown provider state "user 2 exists"; known states: "", "a user exists", "broken",'
        ' "broken teardown", "typed", "user 1 exists"'
    )


def test_client_text_in_an_error_is_escaped_and_shortened(handler: StateHandler) -> None:
    with pytest.raises(StateChangeError) as refused:
        handler.handle(body=body("setup", "\ud800 " + "x" * 500), query=[])
    message = str(refused.value)
    assert message.isascii()
    assert "\\ud800" in message
    assert len(message) < 300


# -- Running setups and teardowns -------------------------------------------------------------


def test_a_setup_that_raises_is_reported_without_a_traceback(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    with pytest.raises(StateFunctionFailed) as failed:
        handler.handle(body=body("setup", "broken"), query=[])
    assert str(failed.value) == (
        'setting up state "broken" failed: RuntimeError: "the database said no"'
    )
    assert "Traceback" not in str(failed.value)
    assert len(store) == 0, "a failed setup must not leave half a state behind"


def test_a_teardown_that_raises_is_reported_and_still_empties_the_store(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(body=body("setup", "broken teardown"), query=[])
    assert 8 in store
    with pytest.raises(StateFunctionFailed, match='tearing down state "broken teardown" failed'):
        handler.handle(body=body("teardown", "broken teardown"), query=[])
    assert len(store) == 0


def test_a_teardown_gets_the_same_params_and_sees_the_interactions_store(
    handler: StateHandler, calls: list[str]
) -> None:
    handler.handle(body=body("setup", "a user exists", id=9), query=[])
    handler.handle(body=body("teardown", "a user exists", id=9), query=[])
    assert calls == ["setup user 9", "teardown user 9 (present: True)"]


def test_a_setup_returns_its_injected_values(handler: StateHandler) -> None:
    assert handler.handle(body=body("setup", "a user exists", id=3), query=[]) == {"id": 3}
    assert handler.handle(body=body("setup", "user 1 exists"), query=[]) == {}


# -- The reset rule ---------------------------------------------------------------------------


def test_the_first_setup_starts_from_an_empty_store(store: InMemoryUserRepository) -> None:
    store.put(user(99))
    handler = StateHandler(store, make_registry())
    handler.handle(body=body("setup", ""), query=[])
    assert len(store) == 0


def test_a_single_state_interaction_is_set_up_then_wiped(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(body=body("setup", "user 1 exists"), query=[])
    assert 1 in store
    store.add(_new("created by the request"))
    handler.handle(body=body("teardown", "user 1 exists"), query=[])
    assert len(store) == 0
    assert store.add(_new("next")).id == 1, "ids start over too"


def test_a_multi_state_interaction_adds_up_and_the_next_one_starts_clean(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    # Exactly the verifier's order: setup, setup, request, teardown, teardown.
    handler.handle(body=body("setup", "user 1 exists"), query=[])
    handler.handle(body=body("setup", "a user exists", id=2), query=[])
    assert 1 in store
    assert 2 in store
    handler.handle(body=body("teardown", "user 1 exists"), query=[])
    handler.handle(body=body("teardown", "a user exists", id=2), query=[])
    assert len(store) == 0

    handler.handle(body=body("setup", "a user exists", id=3), query=[])
    assert 3 in store
    assert 1 not in store
    assert 2 not in store


def test_a_no_state_interaction_gets_an_empty_store(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(body=body("setup", "user 1 exists"), query=[])
    handler.handle(body=body("teardown", "user 1 exists"), query=[])
    handler.handle(body=body("setup", ""), query=[])
    assert len(store) == 0


def test_after_a_failed_setup_the_next_setup_starts_clean(
    handler: StateHandler, store: InMemoryUserRepository
) -> None:
    handler.handle(body=body("setup", "user 1 exists"), query=[])
    with pytest.raises(StateChangeError):
        handler.handle(body=body("setup", "no such state"), query=[])
    # The verifier gave up on that interaction; the next one must not see user 1.
    handler.handle(body=body("setup", "a user exists", id=2), query=[])
    assert 1 not in store
    assert 2 in store


def test_apply_follows_the_same_rule(handler: StateHandler, store: InMemoryUserRepository) -> None:
    handler.apply(StateChange(action="setup", state="user 1 exists"))
    handler.apply(StateChange(action="setup", state="a user exists", params={"id": 4}))
    assert 1 in store
    assert 4 in store
    handler.apply(StateChange(action="teardown", state="user 1 exists"))
    assert len(store) == 0


def _new(name: str) -> NewUser:
    return NewUser(name=name, created_on=CREATED)
