"""The user API on several web frameworks, with one set of framework-free rules (`providers.api`).

Each framework is a module `providers/<name>.py` with a `create_app` factory and a production
`app`; `pyproject.toml` lists them under `[tool.pact-matrix] frameworks`. Serve any of them with
`providers.runner.serve`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from states import UserRepository


def create_app(
    framework: str,
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> Any:
    """`providers.<framework>.create_app(...)`: a WSGI or ASGI app for `runner.serve`.

    Imports the framework only when asked, so choosing one never imports the others.
    """
    try:
        module = importlib.import_module(f"providers.{framework}")
    except ModuleNotFoundError as missing:
        if missing.name != f"providers.{framework}":
            raise  # the framework itself is not installed: say so
        message = f"unknown framework {framework!r}: there is no providers/{framework}.py"
        raise ValueError(message) from None
    return module.create_app(store, provider_states=provider_states, state_secret=state_secret)
