"""Per-SKU forecasts on a Dask cluster (SHOPBOT_DASK_SCHEDULER) give the same results as in one
process, show progress, and survive a worker lost mid-run."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from analytics.forecasting import cluster, run_forecasts
from analytics.forecasting.methods import COLUMNS
from shop.demo import build_demo


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    c = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, env=cluster.WORKER_ENV,
    )  # fmt: skip
    yield c
    cluster.close_clients()
    c.close()


@pytest.fixture
def shop(engine):
    build_demo(engine, seed=11, customers=150, products=30, days=420)
    return engine


def _forecasts(report) -> dict:
    return {
        sku: (res.method, np.round(np.column_stack([res.forecast[c] for c in COLUMNS]), 9))
        for sku, res in report.results.items()
    }


def test_forecasts_on_a_two_worker_cluster_equal_the_in_process_ones(
    shop, dask_cluster, monkeypatch
):
    monkeypatch.delenv("SHOPBOT_DASK_SCHEDULER", raising=False)
    local = run_forecasts(shop, n_jobs=1)
    monkeypatch.setenv("SHOPBOT_DASK_SCHEDULER", dask_cluster.scheduler_address)
    seen: list[tuple[int, int]] = []
    remote = run_forecasts(shop, n_jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert len(local.results) == len(remote.results) >= 25
    a, b = _forecasts(local), _forecasts(remote)
    assert a.keys() == b.keys()
    for sku in a:
        assert a[sku][0] == b[sku][0], sku
        np.testing.assert_array_equal(a[sku][1], b[sku][1], err_msg=sku)
    # Progress went from 0 to every SKU.
    total = len(remote.results)
    assert seen[0] == (0, total) and seen[-1] == (total, total) and len(seen) > 2
    # The workers did the work, not this process.
    workers = dask_cluster.scheduler_info["workers"]
    assert len(workers) == 2


def test_a_worker_lost_mid_run_loses_no_sku(shop, dask_cluster, monkeypatch):
    monkeypatch.setenv("SHOPBOT_DASK_SCHEDULER", dask_cluster.scheduler_address)
    killed = threading.Event()

    def progress(done, total):
        if done >= 2 and not killed.is_set():
            killed.set()
            nanny = next(iter(dask_cluster.workers.values()))
            nanny.process.process.kill()  # the worker process dies; its nanny starts another

    report = run_forecasts(shop, n_jobs=2, progress=progress)
    assert killed.is_set()
    expected = run_forecasts(shop, n_jobs=1)
    assert report.results.keys() == expected.results.keys()
    assert not [r for r in report.results.values() if r.notes and "failed" in " ".join(r.notes)]


def test_by_default_a_local_dask_cluster_of_jobs_workers_runs_them(shop, monkeypatch):
    monkeypatch.delenv("SHOPBOT_DASK_SCHEDULER", raising=False)
    cluster.close_clients()
    try:
        on_dask = run_forecasts(shop, n_jobs=2)
        client = cluster._clients.get("local:2")
        assert client is not None and client.status == "running"
        assert len(client.scheduler_info()["workers"]) == 2
        # The cluster's two workers did the work: between them they ran every SKU batch.
        done = client.run(lambda dask_worker: dask_worker.state.executed_count)
        assert len(done) == 2 and all(n > 0 for n in done.values())
        monkeypatch.setenv("SHOPBOT_DASK_SCHEDULER", "off")
        pooled = run_forecasts(shop, n_jobs=2)
    finally:
        cluster.close_clients()
    a, b = _forecasts(on_dask), _forecasts(pooled)
    assert a.keys() == b.keys() and len(a) >= 25
    for sku in a:
        assert a[sku][0] == b[sku][0], sku
        np.testing.assert_array_equal(a[sku][1], b[sku][1], err_msg=sku)
