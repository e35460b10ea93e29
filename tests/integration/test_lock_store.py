"""The Redis lock store shared by several Rasa servers: one ticket per message, one message of a
conversation at a time, however many servers ask at the same moment (each store instance here
has its own Redis connection, as each Rasa server does)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import redis
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.server.endpoints import lock_store_config
from bot.server.lock_store import ShopRedisLockStore
from support.race import race
from support.servers import TEST_REDIS_URL

SERVERS = 12


def _store(prefix: str) -> ShopRedisLockStore:
    """A store as Rasa builds it from the endpoints entry ``shopbot run`` writes."""
    child_env: dict[str, str] = {}
    entry = lock_store_config(TEST_REDIS_URL, child_env)
    assert entry["type"] == "bot.server.lock_store.ShopRedisLockStore" and child_env == {}
    config = EndpointConfig(
        url=entry["url"], type=entry["type"], port=entry["port"], db=entry["db"], key_prefix=prefix
    )
    store = LockStore.create(config)
    assert isinstance(store, ShopRedisLockStore)
    return store


@pytest.fixture
def prefix():
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = "shopbottest" + uuid.uuid4().hex[:8]
    yield name
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def test_servers_taking_tickets_at_once_get_different_ones(prefix):
    stores = [_store(prefix) for _ in range(SERVERS)]
    tickets = race(SERVERS, lambda i: stores[i].issue_ticket("conv-1"))
    assert len(set(tickets)) == SERVERS and all(isinstance(t, int) for t in tickets)
    lock = stores[0].get_lock("conv-1")
    assert sorted(t.number for t in lock.tickets) == sorted(tickets)
    for i, ticket in enumerate(tickets):
        stores[i].cleanup("conv-1", ticket)
    assert stores[0].get_lock("conv-1") is None  # the last one out deletes the lock


def test_one_message_of_a_conversation_at_a_time_across_servers(prefix):
    stores = [_store(prefix) for _ in range(SERVERS)]
    inside, most_inside, served = 0, 0, []
    guard = threading.Lock()

    async def handle(i: int) -> None:
        nonlocal inside, most_inside
        async with stores[i].lock("conv-2", wait_time_in_seconds=0.01):
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            await asyncio.sleep(0.02)  # the turn's work
            with guard:
                inside -= 1
                served.append(i)

    results = race(SERVERS, lambda i: asyncio.run(handle(i)))
    assert results == [None] * SERVERS
    assert sorted(served) == list(range(SERVERS))
    assert most_inside == 1
    assert stores[0].get_lock("conv-2") is None


def test_a_waiting_ticket_keeps_the_lock_when_the_holder_leaves(prefix):
    first, second = _store(prefix), _store(prefix)
    t1 = first.issue_ticket("conv-3")
    t2 = second.issue_ticket("conv-3")
    assert t2 == t1 + 1
    first.cleanup("conv-3", t1)
    lock = second.get_lock("conv-3")
    assert lock is not None and lock.now_serving == t2 and not lock.is_locked(t2)
    second.cleanup("conv-3", t2)
    assert second.get_lock("conv-3") is None
