"""``shopbot train``: recompute every analytics model from the store and publish a new version.

Steps run in order (segments feed the recommender's cold start; forecasts feed reorder advice).
A step without the data it needs (e.g. no purchases after importing only ratings) is skipped and
reported; any other failure aborts and leaves the previous version in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tqdm import tqdm

from analytics import artifacts
from shop.errors import ModelMissing, NoData, ShopbotError
from shop.store.models import Inventory, Order, OrderItem, Product, Rating

log = logging.getLogger(__name__)

# Bump when a change to the analytics code should force a retrain of existing installations.
PIPELINE_VERSION = "3"


def data_fingerprint(engine: Engine) -> str:
    """A hash of what the models are trained on: row counts and newest ids of the inputs."""
    parts: dict[str, Any] = {"pipeline": PIPELINE_VERSION}
    with engine.connect() as conn:
        for name, col in (
            ("orders", Order.id),
            ("order_items", OrderItem.id),
            ("ratings", Rating.id),
            ("products", Product.id),
        ):
            count, newest = conn.execute(select(func.count(col), func.max(col))).one()
            parts[name] = [count, newest]
        parts["cancelled"] = conn.execute(
            select(func.count()).select_from(Order).where(Order.status == "cancelled")
        ).scalar()
        parts["stock"] = conn.execute(select(func.sum(Inventory.on_hand))).scalar()
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_stale(engine: Engine) -> bool:
    """True when there is no trained version or the data changed since the last training."""
    try:
        meta = artifacts.metadata()
    except (ModelMissing, FileNotFoundError, json.JSONDecodeError):
        return True
    return meta.get("fingerprint") != data_fingerprint(engine)


@dataclass
class TrainReport:
    version: str
    fingerprint: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fingerprint": self.fingerprint,
            "seconds": round(self.seconds, 2),
            "steps": self.steps,
        }

    def format(self) -> str:
        lines = [f"trained analytics version {self.version} in {self.seconds:.1f} s"]
        for name, step in self.steps.items():
            status = step["status"]
            detail = step.get("summary") or step.get("reason") or ""
            lines.append(f"  {name:<12} {status:<8} {step.get('seconds', 0):6.1f} s  {detail}")
        return "\n".join(lines)


def _segments(engine, version, writer, _progress):
    from analytics.segmentation import run_segmentation

    report = run_segmentation(engine, version=version)
    writer.save("segmenter", report.model)
    data = report.to_dict()
    return data, f"k={data.get('k')} silhouette={_round(data.get('silhouette'))}"


def _forecasts(engine, version, writer, progress):
    from analytics.forecasting import run_forecasts
    from analytics.forecasting.demand import frequency_of
    from analytics.forecasting.selection import weekly_config

    # A shop whose history is recorded per week (detected on import) is forecast per week.
    config = weekly_config() if frequency_of(engine) == "W" else None
    horizon = config.horizon if config else 28
    report = run_forecasts(
        engine, version=version, progress=progress, config=config, horizon=horizon
    )
    writer.save("forecasts", report.artifact)
    writer.metadata["forecast_run_id"] = report.run_id
    data = report.to_dict()
    return data, f"{data.get('n_skus', '?')} SKUs, run {report.run_id}"


def _reorder(engine, version, writer, _progress):
    from analytics.inventory import run_reorder

    run_id = writer.metadata.get("forecast_run_id")
    if run_id is None:
        raise NoData("no forecasts were made, so there is no reorder advice")
    report = run_reorder(
        engine, forecast_run_id=run_id, version=version, forecasts=writer.saved.get("forecasts")
    )
    data = report.to_dict()
    return data, f"{data.get('reorder_now_count', '?')} products to reorder now"


def _recommender(engine, version, writer, _progress):
    from analytics.recommendation import train_recommender

    model, metrics = train_recommender(engine, version=version)
    writer.save("recommender", model)
    return metrics, f"model={metrics.get('model', '?')}"


def _catalogue(engine, _version, writer, _progress):
    from analytics.data import load_products
    from analytics.recommendation.by_need import build_index
    from analytics.text_encoder import EncoderUnavailable

    products = load_products(engine)
    if products.empty:
        raise NoData("the shop has no products")
    try:
        index = build_index(products)
    except EncoderUnavailable as err:
        raise NoData(f"search by need is off: {err}") from err
    writer.save("catalogue", index)
    return {"products": len(index.skus)}, f"{len(index.skus)} products embedded"


def _round(x):
    return round(x, 3) if isinstance(x, float) else x


STEPS: tuple[tuple[str, Callable], ...] = (
    ("segments", _segments),
    ("forecasts", _forecasts),
    ("reorder", _reorder),
    ("recommender", _recommender),
    ("catalogue", _catalogue),
)


def train_all(engine: Engine, *, show_progress: bool = True) -> TrainReport:
    """Runs every step, saves the artifacts as a new version and points LATEST at it."""
    started = time.perf_counter()
    writer = artifacts.VersionWriter()
    report = TrainReport(version=writer.version, fingerprint=data_fingerprint(engine))
    writer.metadata["fingerprint"] = report.fingerprint
    try:
        for name, step in STEPS:
            t0 = time.perf_counter()
            bar = None

            def progress(done: int, total: int, _name=name) -> None:
                nonlocal bar
                if not show_progress:
                    return
                if bar is None:
                    bar = tqdm(total=total, desc=f"{_name:<12}", file=sys.stderr, leave=True)
                bar.n = done
                bar.refresh()

            if show_progress:
                print(f"==> {name}", file=sys.stderr, flush=True)
            try:
                data, summary = step(engine, writer.version, writer, progress)
                report.steps[name] = {"status": "ok", "summary": summary, "result": data}
            except NoData as err:
                report.steps[name] = {"status": "skipped", "reason": str(err)}
                log.warning("%s skipped: %s", name, err)
            finally:
                if bar is not None:
                    bar.close()
            report.steps[name]["seconds"] = round(time.perf_counter() - t0, 2)
        if not any(s["status"] == "ok" for s in report.steps.values()):
            raise NoData(
                "nothing could be trained: the database has no orders and no ratings — "
                "run `shopbot setup-demo` or `shopbot import …` first"
            )
        report.seconds = time.perf_counter() - started
        writer.metadata["steps"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "result"} for k, v in report.steps.items()
        }
        writer.metadata["seconds"] = round(report.seconds, 2)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return report


__all__ = ["ShopbotError", "TrainReport", "data_fingerprint", "is_stale", "train_all"]
