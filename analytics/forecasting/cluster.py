"""Where per-SKU work runs: on Dask distributed — by default a cluster of this machine's processes
started for the run (``SHOPBOT_DASK_SCHEDULER`` unset or ``local``), or an existing cluster
(``tcp://host:8786``) — or, with ``off``, a plain local process pool without Dask.

Either way the caller gets a ``concurrent.futures``-style executor, so the same code submits the
work and collects the results; Dask reruns the tasks of a lost worker elsewhere (up to
``RETRIES`` times for a task that keeps losing its worker) and a task that still fails fails the
run loudly. Each SKU's own errors never reach here: they are caught per series and reported.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from shop import settings

RETRIES = 2
# Each worker runs one small model at a time; letting BLAS spawn threads on top of two worker
# processes only makes them fight over the two cores.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_clients: dict[str, Any] = {}
_lock = threading.Lock()


OFF = "off"
LOCAL = "local"


def dask_address() -> str | None:
    """The Dask scheduler to use (``local`` unless set), or None when Dask is turned ``off``."""
    value = (settings.DASK_SCHEDULER.get() or "").strip()
    if value.lower() == OFF:
        return None
    return value or LOCAL


def dask_client(address: str, n_workers: int):
    """A connected Dask client, made once per address (``local``: a cluster of ``n_workers``
    single-threaded worker processes on this machine, started now)."""
    from distributed import Client, LocalCluster

    key = f"local:{n_workers}" if address == LOCAL else address
    with _lock:
        client = _clients.get(key)
        if client is not None and client.status == "running":
            return client
        if address == LOCAL:
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # No dashboard; the scheduler's health page on a free loopback port, so two
                # runs at once never compete for 8787.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                env=WORKER_ENV,
            )
            client = Client(cluster)
        else:
            client = Client(address, timeout="20s")
        _clients[key] = client
        return client


def dask_executor(address: str, n_jobs: int) -> tuple[Any, int]:
    """(executor, number of workers) on the Dask cluster at ``address``."""
    client = dask_client(address, max(1, n_jobs))
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    return client.get_executor(retries=RETRIES, pure=False), workers


def close_clients() -> None:
    """Closes the clients (and local clusters) made here."""
    with _lock:
        for client in _clients.values():
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        _clients.clear()


# Local clusters' workers stop with this process, cleanly (nothing to do when none was made).
atexit.register(close_clients)


def _warm_up() -> int:
    """Nothing: submitting it makes a worker import this module (statsmodels and all) early."""
    return os.getpid()


def executor(n_jobs: int) -> tuple[Any, int]:
    """(executor, workers) for per-SKU work: the configured Dask cluster (a local one of
    ``n_jobs`` workers by default), or with Dask ``off`` the reusable local process pool (its
    workers already importing their modules, so their start-up overlaps the caller loading the
    store); (None, 1) for in-process work when one local job is asked for."""
    n_jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    address = dask_address()
    if n_jobs == 1 and address in (None, LOCAL):
        return None, 1
    if address is not None:
        return dask_executor(address, n_jobs)
    from joblib.externals.loky import get_reusable_executor

    pool = get_reusable_executor(max_workers=n_jobs, env=WORKER_ENV, timeout=120)
    for _ in range(n_jobs):
        pool.submit(_warm_up)
    return pool, n_jobs
