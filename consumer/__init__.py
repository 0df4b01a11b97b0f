"""UserConsumer's client for the user API: the consumer whose contract the providers must honour."""

from consumer.client import User, UserClient, UserNotFoundError

__all__ = ["User", "UserClient", "UserNotFoundError"]
