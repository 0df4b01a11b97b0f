"""Framework-free provider states: the fake user store and the state vocabulary.

Nothing here imports a web framework: both providers (and anything else) share it.
"""

from states.registry import (
    Action,
    InjectedValues,
    State,
    StateChange,
    StateChangeError,
    StateFunctionFailed,
    StateHandler,
    StateRegistry,
)
from states.users import (
    MAX_USER_ID,
    InMemoryUserRepository,
    NewUser,
    StateStore,
    User,
    UserRepository,
)
from states.vocabulary import PROVIDER_STATES, VERNA_HAMPTON

__all__ = [
    "MAX_USER_ID",
    "PROVIDER_STATES",
    "VERNA_HAMPTON",
    "Action",
    "InMemoryUserRepository",
    "InjectedValues",
    "NewUser",
    "State",
    "StateChange",
    "StateChangeError",
    "StateFunctionFailed",
    "StateHandler",
    "StateRegistry",
    "StateStore",
    "User",
    "UserRepository",
]
