"""A provider broken on purpose, for the tests that prove a verification can fail."""

from __future__ import annotations

import dataclasses

from states import InMemoryUserRepository, User

# What the broken store calls every user it returns.
WRONG_NAME = "Somebody Else"


class MisnamingStore(InMemoryUserRepository):
    """A fake user database with a bug: every user it returns has the wrong name."""

    def get(self, user_id: int) -> User | None:
        user = super().get(user_id)
        return None if user is None else dataclasses.replace(user, name=WRONG_NAME)
