"""Running the same work in several threads released at the same instant (race tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(n: int, work: Callable[[int], Any], timeout: float = 300) -> list:
    """``work(i)`` for i < n in n threads released together: each result or exception, in order.

    Fails when a thread has not finished after ``timeout`` seconds (a request that never ended).
    """
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[i] = work(i)
        except Exception as exc:  # collected; the test asserts on them
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing call never finished"
    return results
