"""UserConsumer's client for the user API: the consumer whose contract the providers must honour."""

from consumer.client import ISO_8601_WITH_OFFSET, User, UserClient, UserNotFoundError

__all__ = ["ISO_8601_WITH_OFFSET", "User", "UserClient", "UserNotFoundError"]
