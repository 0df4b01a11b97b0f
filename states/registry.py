"""The provider-state registry and the handling of the verifier's state-change requests.

A state is one decorated function: its first parameter is the store, the others are the
state's parameters, and their annotations say how the verifier's values are read. JSON
values (body state handler) must already have the annotated type; query-string values
(`body=False`) are strings and are converted.

Every verifier's dialect is read (`StateChange.from_json`, `StateChange.from_query`):

* the Rust verifier (pact-python 4, `pact_verifier_cli`, pact-js, pact-go) and pact-jvm:
  `{"state", "params", "action": "setup" | "teardown"}`, one setup per state of the
  interaction, then (if asked for) one teardown per state;
* the Ruby `pact-provider-verifier`: `{"consumer", "state", "states": [...], "params"}`
  with no `action`, and never a teardown: a request without `action` sets up a whole
  interaction (every state in `states`, else `state`);
* the query-string form (`?action=setup&state=...&id=42`), `action` optional as well.

The reset rule, which makes every interaction start from an empty store:

* a setup that does not add to the setups of the same interaction empties the store first:
  a setup adds up only when it directly follows another setup and the API has served no
  request since (`StateStore.api_calls`), so the setups of a multi-state interaction add up,
  and an interaction's first setup starts clean even when no teardown came before it;
* a request without `action` is a whole interaction's setup: it always starts clean;
* every teardown empties the store after the state's own teardown, so nothing is left for
  the next interaction, framework or test;
* a state change that fails empties the store too, so a failed interaction leaks nothing.

An interaction without a state gets a setup too, from every verifier here (state "" from the
Rust verifier, null from the Ruby one): it starts from an empty store like any other.
"""

from __future__ import annotations

import builtins
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from states.users import StateStore

Action: TypeAlias = Literal["setup", "teardown"]
ACTIONS: tuple[Action, ...] = ("setup", "teardown")
# What a setup may hand back to the verifier: provider-state injected values (V3 and later).
InjectedValues: TypeAlias = Mapping[str, object]
StateFunction: TypeAlias = Callable[..., InjectedValues | None]

# Parameter types a state may take, with how each is read from a query-string value.
_INTEGER = re.compile(r"[+-]?[0-9]{1,4000}")  # int() refuses more than 4300 digits
_PARAM_TYPES: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
}
_INVALID = object()  # "this value cannot be read as that type"


class StateChangeError(Exception):
    """A state change that was refused: bad request, unknown state or bad parameters."""


class StateFunctionFailed(StateChangeError):
    """The state's own setup or teardown function raised."""


def shown(value: object, limit: int = 80) -> str:
    """Show a client-sent value in an error message: as JSON, ASCII-only, at most `limit` long."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class _Param:
    name: str
    type: type
    optional: bool  # None is allowed
    required: bool  # no default


@dataclass
class State:
    """One named state: a setup function and an optional teardown with the same parameters."""

    name: str
    setup: StateFunction
    params: dict[str, _Param]
    teardown_function: StateFunction | None = None

    def teardown(self, function: StateFunction) -> StateFunction:
        """Decorator: run `function` on teardown, with the same store and parameters as setup."""
        if _read_params(function) != self.params:
            raise TypeError(
                f"teardown of state {self.name!r} must take the same parameters as its setup"
            )
        self.teardown_function = function
        return function

    def coerce(self, params: Mapping[str, object], *, from_query: bool) -> dict[str, object]:
        """Check the verifier's params against the setup's signature and convert them."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            raise StateChangeError(
                f"state {shown(self.name)} does not take parameter {shown(unknown[0])}"
                f" (it takes: {takes})"
            )
        missing = [p.name for p in self.params.values() if p.required and p.name not in params]
        if missing:
            raise StateChangeError(f"state {shown(self.name)} needs parameter {shown(missing[0])}")
        return {
            name: _coerce_value(self.name, self.params[name], value, from_query=from_query)
            for name, value in params.items()
        }


def _coerce_value(state: str, param: _Param, value: object, *, from_query: bool) -> object:
    expected = _PARAM_TYPES[param.type]
    if value is None and param.optional:
        return None
    if from_query and isinstance(value, str):
        converted = _from_string(param.type, value)
    else:
        converted = value if _is_exactly(param.type, value) else _INVALID
    if converted is _INVALID:
        raise StateChangeError(
            f"state {shown(state)}: parameter {shown(param.name)} must be {expected},"
            f" got {shown(value)}"
        )
    return converted


def _is_exactly(expected: type, value: object) -> bool:
    # JSON true is a Python bool, which is an int: never let it pass for a number.
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _from_string(expected: type, text: str) -> object:
    if expected is str:
        return text
    if expected is int:
        return int(text) if _INTEGER.fullmatch(text) else _INVALID
    if expected is bool:
        return {"true": True, "false": False}.get(text.lower(), _INVALID)
    try:
        return float(text)
    except ValueError:
        return _INVALID


def _read_params(function: StateFunction) -> dict[str, _Param]:
    """The state's parameters: everything after the store, keyword-usable, of a known type."""
    annotations = inspect.get_annotations(function)
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"{function.__qualname__} must take the store as its first parameter")
    params: dict[str, _Param] = {}
    for parameter in parameters[1:]:
        if parameter.kind not in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise TypeError(
                f"{function.__qualname__}: parameter {parameter.name!r} must be a named parameter"
            )
        annotation = _evaluate(annotations.get(parameter.name, inspect.Parameter.empty), function)
        base, optional = _unwrap_optional(annotation)
        if base not in _PARAM_TYPES:
            raise TypeError(
                f"{function.__qualname__}: parameter {parameter.name!r} must be annotated"
                f" with int, float, str or bool (or that | None), not {annotation!r}"
            )
        params[parameter.name] = _Param(
            name=parameter.name,
            type=base,
            optional=optional,
            required=parameter.default is inspect.Parameter.empty,
        )
    return params


def _evaluate(annotation: object, function: StateFunction) -> object:
    """Turn a string annotation (`from __future__ import annotations`) into the type it names.

    Only the state's own parameters are evaluated, as `typing.get_type_hints` would: the store's
    and the return annotation may name types imported for type checking only.
    """
    if not isinstance(annotation, str):
        return annotation
    return eval(annotation, dict(vars(builtins)), dict(function.__globals__))


def _unwrap_optional(annotation: object) -> tuple[object, bool]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2:
            return members[0], True
    return annotation, False


class StateRegistry:
    """The provider-state vocabulary: state name -> `State`."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}

    def state(self, name: str) -> Callable[[StateFunction], State]:
        """Decorator: register the decorated function as the setup of state `name`."""

        def register(setup: StateFunction) -> State:
            if name in self._states:
                raise ValueError(f"provider state {name!r} is registered twice")
            registered = State(name=name, setup=setup, params=_read_params(setup))
            self._states[name] = registered
            return registered

        return register

    def __getitem__(self, name: str) -> State:
        try:
            return self._states[name]
        except KeyError:
            known = ", ".join(shown(known) for known in sorted(self._states))
            raise StateChangeError(
                f"unknown provider state {shown(name)}; known states: {known}"
            ) from None

    def __iter__(self) -> typing.Iterator[str]:
        return iter(sorted(self._states))

    def __contains__(self, name: object) -> bool:
        return name in self._states

    def __len__(self) -> int:
        return len(self._states)


@dataclass(frozen=True)
class StateChange:
    """One state-change request from the verifier."""

    action: Action
    state: str
    params: Mapping[str, object] = field(default_factory=dict)
    # Query-string state handlers (`body=False`) send every value as a string.
    values_are_strings: bool = False
    # Sent without "action" (the Ruby verifier): the setup of a whole interaction, which no
    # teardown will follow, of every state in `states` (else of `state` alone).
    whole_interaction: bool = False
    states: tuple[str, ...] = ()

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.states or (self.state,)

    @classmethod
    def from_json(cls, body: bytes) -> StateChange:
        """Read a JSON state change in any verifier's dialect (see the module docstring)."""
        try:
            document = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise StateChangeError("state change body is not valid JSON") from None
        if not isinstance(document, dict):
            raise StateChangeError("state change body must be a JSON object")
        params = document.get("params", {})
        if not isinstance(params, dict):
            raise StateChangeError('"params" must be a JSON object')
        states = _states(document)
        state = _state_name(_no_state_is_empty(document["state"])) if "state" in document else None
        if state is None and not states:
            raise StateChangeError(f"state change is missing {shown('state')}")
        if state is not None and states and state not in states:
            raise StateChangeError(
                f'"state" {shown(state)} is not one of "states" {shown(list(states))}'
            )
        name = state if state is not None else states[0]
        if "action" not in document:
            return cls("setup", name, params, whole_interaction=True, states=states)
        if states and states != (name,):
            raise StateChangeError('"states" names several states: send it without "action"')
        return cls(action=_action(document["action"]), state=name, params=params)

    @classmethod
    def from_query(cls, pairs: Iterable[tuple[str, str]]) -> StateChange:
        """Read `?action=setup&state=...&id=42` as a query-string state handler sends it."""
        values: dict[str, str] = {}
        for key, value in pairs:
            if key in values:
                raise StateChangeError(f"query parameter {shown(key)} is given more than once")
            values[key] = value
        state = _required(values, "state")
        params = {key: value for key, value in values.items() if key not in ("action", "state")}
        if "action" not in values:
            return cls(
                "setup",
                _state_name(state),
                params,
                values_are_strings=True,
                whole_interaction=True,
            )
        return cls(
            action=_action(values["action"]),
            state=_state_name(state),
            params=params,
            values_are_strings=True,
        )


def _states(document: Mapping[str, object]) -> tuple[str, ...]:
    """The Ruby verifier's `"states": [...]`: every state of the interaction, or ()."""
    if "states" not in document:
        return ()
    states = document["states"]
    if isinstance(states, list):
        states = [_no_state_is_empty(state) for state in states]
    if not isinstance(states, list) or not states or not all(isinstance(s, str) for s in states):
        raise StateChangeError('"states" must be a non-empty list of strings')
    return tuple(states)


def _no_state_is_empty(state: object) -> object:
    """The Ruby verifier names no state with null (`"state": null, "states": [null]`); the
    Rust verifier with "": both mean the interaction has no provider state."""
    return "" if state is None else state


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _required(document: Mapping[str, object], key: str) -> object:
    if key not in document:
        raise StateChangeError(f"state change is missing {shown(key)}")
    return document[key]


def _action(value: object) -> Action:
    if value not in ACTIONS:
        raise StateChangeError('"action" must be "setup" or "teardown"')
    return value


def _state_name(value: object) -> str:
    if not isinstance(value, str):
        raise StateChangeError('"state" must be a string')
    return value


class StateHandler:
    """Applies state changes to one store, following the reset rule in this module's docstring."""

    def __init__(self, store: StateStore, registry: StateRegistry) -> None:
        self.store = store
        self.registry = registry
        self._lock = threading.Lock()
        self._last_action: Action | None = None
        self._api_calls_at_setup = 0

    def handle(self, *, body: bytes, query: Iterable[tuple[str, str]]) -> InjectedValues:
        """Handle a state-change request: a JSON body if there is one, else the query string."""
        with self._lock:
            try:
                if body.strip():
                    change = StateChange.from_json(body)
                else:
                    change = StateChange.from_query(query)
                return self._apply(change)
            except StateChangeError:
                self._start_over()
                raise

    def apply(self, change: StateChange) -> InjectedValues:
        with self._lock:
            try:
                return self._apply(change)
            except StateChangeError:
                self._start_over()
                raise

    def _apply(self, change: StateChange) -> InjectedValues:
        states = [self.registry[name] for name in change.state_names]
        params = [s.coerce(change.params, from_query=change.values_are_strings) for s in states]
        if change.action == "teardown":
            state = states[0]
            try:
                injected = None
                if state.teardown_function is not None:
                    injected = _run(
                        state, state.teardown_function, self.store, params[0], "tearing down"
                    )
            finally:
                self.store.reset()
            self._last_action = "teardown"
            return dict(injected or {})
        if change.whole_interaction or not self._adds_to_the_last_setup():
            self.store.reset()
        values: dict[str, object] = {}
        for state, state_params in zip(states, params, strict=True):
            values |= _run(state, state.setup, self.store, state_params, "setting up") or {}
        # A whole interaction's setup is complete: nothing may add to it.
        self._last_action = None if change.whole_interaction else "setup"
        self._api_calls_at_setup = self.store.api_calls
        return values

    def _adds_to_the_last_setup(self) -> bool:
        """Whether a setup belongs to the same interaction as the last one: it follows a setup
        directly, with no request to the API in between (a verifier that sends no teardown
        goes from one interaction's setup and request to the next interaction's setup)."""
        return self._last_action == "setup" and self.store.api_calls == self._api_calls_at_setup

    def _start_over(self) -> None:
        self.store.reset()
        self._last_action = None


def _run(
    state: State, function: StateFunction, store: StateStore, params: dict[str, Any], doing: str
) -> InjectedValues | None:
    try:
        return function(store, **params)
    except Exception as error:
        # Only the exception's type and message: a stack trace never leaves the process.
        message = f"{type(error).__name__}: {shown(str(error), 200)}"
        raise StateFunctionFailed(f"{doing} state {shown(state.name)} failed: {message}") from error
