"""The in-memory user store: the repository operations, the id rules and thread safety."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from states import MAX_USER_ID, InMemoryUserRepository, NewUser, StateStore, User

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def new_user(name: str = "Ada") -> NewUser:
    return NewUser(name=name, created_on=CREATED, hobbies=("chess",))


def test_add_gives_consecutive_ids_and_keeps_every_field() -> None:
    store = InMemoryUserRepository()
    first = store.add(new_user("Ada"))
    second = store.add(new_user("Grace"))
    assert (first.id, second.id) == (1, 2)
    assert store.get(1) == User(id=1, name="Ada", created_on=CREATED, hobbies=("chess",))
    assert store.get(2) == second
    assert 2 in store
    assert 3 not in store


def test_add_skips_ids_that_a_state_put_there() -> None:
    store = InMemoryUserRepository()
    store.put(User(id=1, name="Put", created_on=CREATED))
    store.put(User(id=2, name="Put", created_on=CREATED))
    assert store.add(new_user()).id == 3


def test_set_next_id_chooses_the_next_created_id() -> None:
    store = InMemoryUserRepository()
    store.set_next_id(124)
    assert store.add(new_user()).id == 124
    assert store.add(new_user()).id == 125


def test_delete_reports_whether_there_was_a_user() -> None:
    store = InMemoryUserRepository()
    user = store.add(new_user())
    assert store.delete(user.id) is True
    assert store.get(user.id) is None
    assert store.delete(user.id) is False


def test_reset_forgets_users_and_restarts_ids() -> None:
    store = InMemoryUserRepository()
    store.set_next_id(50)
    store.add(new_user())
    store.reset()
    assert len(store) == 0
    assert store.add(new_user()).id == 1


@pytest.mark.parametrize("bad_id", [0, -1, MAX_USER_ID + 1])
def test_ids_outside_the_positive_64_bit_range_are_refused(bad_id: int) -> None:
    store = InMemoryUserRepository()
    with pytest.raises(ValueError, match="user ids run from 1"):
        store.put(User(id=bad_id, name="X", created_on=CREATED))
    with pytest.raises(ValueError, match="user ids run from 1"):
        store.set_next_id(bad_id)


def test_the_last_id_is_usable_and_then_the_store_is_full() -> None:
    store = InMemoryUserRepository()
    store.set_next_id(MAX_USER_ID)
    assert store.add(new_user()).id == MAX_USER_ID
    with pytest.raises(OverflowError):
        store.add(new_user())


def test_the_fake_is_a_state_store() -> None:
    assert isinstance(InMemoryUserRepository(), StateStore)
    assert not isinstance(object(), StateStore)


def test_concurrent_adds_and_deletes_never_lose_or_share_an_id() -> None:
    store = InMemoryUserRepository()
    threads_count, per_thread = 8, 250
    created: list[list[int]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def work(index: int) -> None:
        start.wait()
        for _ in range(per_thread):
            user = store.add(new_user())
            created[index].append(user.id)
            # Every other user goes again, racing the other threads' adds.
            if user.id % 2:
                assert store.delete(user.id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    all_ids = [user_id for ids in created for user_id in ids]
    assert len(all_ids) == len(set(all_ids)) == threads_count * per_thread
    assert len(store) == sum(1 for user_id in all_ids if user_id % 2 == 0)


def test_api_calls_counts_the_operations_the_api_uses_and_not_the_states_own() -> None:
    store = InMemoryUserRepository()
    store.put(User(id=1, name="A", created_on=datetime(2024, 1, 1, tzinfo=UTC)))
    store.set_next_id(5)
    store.reset()
    assert store.api_calls == 0
    store.get(1)
    store.add(NewUser(name="B", created_on=datetime(2024, 1, 1, tzinfo=UTC)))
    store.delete(1)
    _ = 1 in store
    assert store.api_calls == 4
