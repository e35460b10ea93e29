"""The lock store several Rasa servers share: Rasa's Redis lock store, with every change of a
conversation's lock made atomically.

Rasa keeps a conversation's lock in Redis as one JSON value (a queue of tickets) and changes it by
reading it, changing it in Python and writing it back. Two Rasa servers taking a ticket for the
same conversation at the same moment both read the same queue, both take the same ticket number,
and both process their message at once: each saves the conversation as it read it, so one of the
two messages disappears from the conversation (6 of 16 messages sent at once to two servers were
lost in tests/e2e/test_faults.py). Here each read-change-write runs in a Redis transaction (WATCH the
key, MULTI/EXEC, retried when someone else changed it first), so tickets are unique and the
messages of one conversation are handled one after another, whichever server takes them.

``shopbot run`` uses it for ``SHOPBOT_LOCK_STORE_URL`` (``type: bot.server.lock_store.ShopRedisLockStore``
in the endpoints file it writes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig


class ShopRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store whose ticket queue changes are atomic across processes."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoints entry alone.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(
        self, conversation_id: str, change: Callable[[TicketLock | None], tuple[Any, Any]]
    ) -> Any:
        """The value ``change(lock)`` gives, after storing the lock it gives (None: delete),
        all as one Redis transaction on the conversation's key (redone if the key changed)."""
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> Any:
            raw = pipe.get(key)
            new_lock, value = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
            pipe.multi()
            if new_lock is None:
                pipe.delete(key)
            else:
                pipe.set(key, new_lock.dumps())
            return value

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """The number of a new ticket for the conversation (creating its lock if needed)."""

        def take(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, take)
        except Exception as err:
            raise LockError(f"Error while acquiring lock. Error:\n{err}") from err

    def update_lock(self, conversation_id: str) -> None:
        """Removes expired tickets from the conversation's lock."""

        def expire(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Removes the ticket; deletes the lock if nobody else is waiting (in one step, so a
        ticket taken meanwhile by another server is never deleted with it)."""

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
