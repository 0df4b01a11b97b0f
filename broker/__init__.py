"""The embedded Pact Broker: a Pact-Broker-compatible HAL+JSON service on SQLite.

`create_app(database, auth=...)` is the ASGI app; `Auth.from_env()` reads the real broker's
basic-auth variables; `python -m broker` serves it.
"""

from broker.app import create_app
from broker.auth import Auth, Credentials

__all__ = ["Auth", "Credentials", "create_app"]
