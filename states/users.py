"""The user record and the store the providers read and write.

The API needs four operations (get, add with the next id, delete, contains): that is
`UserRepository`. Provider states also need to put a user with a chosen id, choose the next
id and empty the store: that is `StateStore`. `InMemoryUserRepository` is the fake behind
both, the only store this project has.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

# User ids are positive 64-bit integers, like a database's bigint key.
MAX_USER_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user that has no id yet: what a create request holds."""

    name: str
    created_on: datetime
    email: str | None = None
    ip_address: str | None = None
    hobbies: tuple[str, ...] = ()
    admin: bool = False


@dataclass(frozen=True, slots=True)
class User:
    """A stored user. Frozen, so a reader on another thread never sees it half-changed."""

    id: int
    name: str
    created_on: datetime
    email: str | None = None
    ip_address: str | None = None
    hobbies: tuple[str, ...] = ()
    admin: bool = False

    @classmethod
    def from_new(cls, user_id: int, new: NewUser) -> User:
        fields = {field.name: getattr(new, field.name) for field in dataclasses.fields(new)}
        return cls(id=user_id, **fields)


class UserRepository(Protocol):
    """What the user API needs from a store."""

    def get(self, user_id: int) -> User | None: ...

    def add(self, new: NewUser) -> User:
        """Store `new` under the next free id and return it with that id."""
        ...

    def delete(self, user_id: int) -> bool:
        """Remove the user; False when there was none."""
        ...

    def __contains__(self, user_id: object) -> bool: ...


@runtime_checkable
class StateStore(UserRepository, Protocol):
    """What provider states need on top: only a test store offers these."""

    def put(self, user: User) -> None:
        """Store `user` under its own id, replacing any user with that id."""
        ...

    def set_next_id(self, next_id: int) -> None:
        """Make `next_id` the id that the next `add` tries first."""
        ...

    def reset(self) -> None:
        """Forget every user and start ids at 1 again."""
        ...

    @property
    def api_calls(self) -> int:
        """How many `UserRepository` operations the store has served so far: the state handler
        sees from it whether the API served a request between two setups."""
        ...


class InMemoryUserRepository:
    """A thread-safe in-memory store.

    The providers answer requests on their server threads while the test thread (or the
    state endpoint, on yet another thread) changes the store, so every operation holds one
    lock. Users are immutable, so handing them out needs no copy.
    """

    def __init__(self, users: Iterable[User] = ()) -> None:
        self._lock = threading.Lock()
        self._users: dict[int, User] = {user.id: user for user in users}
        self._next_id = 1
        self._api_calls = 0

    def get(self, user_id: int) -> User | None:
        with self._lock:
            self._api_calls += 1
            return self._users.get(user_id)

    def add(self, new: NewUser) -> User:
        with self._lock:
            self._api_calls += 1
            user_id = self._next_id
            # Skip ids that a provider state put there on purpose.
            while user_id in self._users:
                user_id += 1
            if user_id > MAX_USER_ID:
                raise OverflowError("no user ids left")
            user = User.from_new(user_id, new)
            self._users[user_id] = user
            self._next_id = user_id + 1
            return user

    def delete(self, user_id: int) -> bool:
        with self._lock:
            self._api_calls += 1
            return self._users.pop(user_id, None) is not None

    def __contains__(self, user_id: object) -> bool:
        with self._lock:
            self._api_calls += 1
            return user_id in self._users

    def put(self, user: User) -> None:
        _check_user_id(user.id)
        with self._lock:
            self._users[user.id] = user

    def set_next_id(self, next_id: int) -> None:
        _check_user_id(next_id)
        with self._lock:
            self._next_id = next_id

    def reset(self) -> None:
        with self._lock:
            self._users.clear()
            self._next_id = 1

    @property
    def api_calls(self) -> int:
        with self._lock:
            return self._api_calls

    def __len__(self) -> int:
        with self._lock:
            return len(self._users)

    def __repr__(self) -> str:
        with self._lock:
            return f"{type(self).__name__}(ids={sorted(self._users)}, next_id={self._next_id})"


def _check_user_id(user_id: int) -> None:
    if not 1 <= user_id <= MAX_USER_ID:
        raise ValueError(f"user ids run from 1 to {MAX_USER_ID}, not {user_id}")
