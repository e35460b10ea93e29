"""Segmentation runs on the store: fit, write one run with its rows, read the newest back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from analytics import artifacts
from analytics.segmentation.features import FEATURE_COLUMNS, load_features
from analytics.segmentation.model import Segmenter
from analytics.segmentation.profiles import format_profiles, num, profile_dicts, scores
from shop.store import session_scope
from shop.store.models import AnalyticsRun, CustomerSegment, SegmentProfile, utcnow


@dataclass
class SegmentationReport:
    """What one segmentation run produced (and where it was stored)."""

    run_id: int
    model_version: str
    as_of: dt.datetime
    n_customers: int
    customers_without_purchases: int
    profiles: list[dict[str, Any]]
    model: Segmenter = field(repr=False)

    @property
    def k(self) -> int:
        """The number of segments."""
        return self.model.k_

    @property
    def silhouette(self) -> float:
        """The silhouette of the stored segmentation."""
        return self.model.silhouette_

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: run id, model version, as-of time, k, silhouette(s), counts, segments."""
        return {
            "run_id": self.run_id,
            "model_version": self.model_version,
            "as_of": self.as_of.isoformat(),
            **scores(self.model),
            "customers": self.n_customers,
            "customers_without_purchases": self.customers_without_purchases,
            "segments": self.profiles,
        }

    def format(self) -> str:
        """The segment table a shop manager reads, with the run it came from."""
        head = (
            f"Customer segments — run {self.run_id} (model {self.model_version}), as of "
            f"{self.as_of:%Y-%m-%d}: {self.n_customers:,} customers in {self.k} segments "
            f"(silhouette {self.silhouette:.2f})"
        )
        lines = [head, "", format_profiles(self.profiles)]
        if self.customers_without_purchases:
            lines += [
                "",
                f"{self.customers_without_purchases:,} customer(s) without purchases were not "
                "segmented.",
            ]
        return "\n".join(lines)


def run_segmentation(
    engine: Engine,
    *,
    k: int | None = None,
    version: str | None = None,
    random_state: int = 0,
) -> SegmentationReport:
    """The report of a new segmentation of the store's customers, stored as one run.

    Writes one ``AnalyticsRun`` (kind "segments"), a ``CustomerSegment`` row per segmented
    customer and a ``SegmentProfile`` row per segment, all in one transaction. Raises
    :class:`NoData` when there are no purchases or too few customers to segment.
    """
    started = utcnow()
    features, _customers, as_of = load_features(engine)
    model = Segmenter(k=k, random_state=random_state).fit(features)
    version = version or artifacts.new_version()
    profiles = profile_dicts(model.profiles_)
    without = int(features.attrs.get("customers_without_purchases", 0))
    metrics = {
        **scores(model),
        "inertia": num(model.inertia_),
        "customers": len(features),
        "customers_without_purchases": without,
        # SegmentProfile has no columns for these; kept here so latest_segments() can show them.
        "category_shares": {str(p["segment"]): p["category_shares"] for p in profiles},
        "tenure_days": {str(p["segment"]): p["tenure_days"] for p in profiles},
        "customer_share": {str(p["segment"]): p["customer_share"] for p in profiles},
        "favourite_share": {str(p["segment"]): p["favourite_share"] for p in profiles},
    }
    params = {
        "k": k,
        "k_range": list(model.k_range),
        "random_state": random_state,
        "as_of": as_of.isoformat(),
        "features": list(FEATURE_COLUMNS),
        "frequency": "orders per month from first order to as_of (at least one month)",
    }
    seg = model.segments_frame()
    with session_scope(engine) as session:
        run = AnalyticsRun(
            kind="segments",
            model_version=version,
            started_at=started,
            params=params,
            metrics=metrics,
        )
        session.add(run)
        session.flush()
        run_id = run.id
        session.execute(
            insert(CustomerSegment),
            [
                {"run_id": run_id, "customer_id": int(c), "segment": int(s), "label": lab}
                for c, s, lab in zip(seg["customer_id"], seg["segment"], seg["label"], strict=True)
            ],
        )
        session.add_all(
            SegmentProfile(
                run_id=run_id,
                segment=p["segment"],
                label=p["label"],
                size=p["size"],
                favourite_category=p["favourite_category"],
                purchases_per_month=p["purchases_per_month"],
                spend_per_month=p["spend_per_month"],
                recency_days=p["recency_days"],
            )
            for p in profiles
        )
        run.finished_at = utcnow()
    return SegmentationReport(
        run_id=run_id,
        model_version=version,
        as_of=as_of,
        n_customers=len(features),
        customers_without_purchases=without,
        profiles=profiles,
        model=model,
    )


def _newest_run(stmt):
    """``stmt`` restricted to the newest finished segmentation run."""
    return (
        stmt.where(AnalyticsRun.kind == "segments", AnalyticsRun.finished_at.is_not(None))
        .order_by(AnalyticsRun.finished_at.desc(), AnalyticsRun.id.desc())
        .limit(1)
    )


def latest_segments(engine: Engine) -> dict[str, Any] | None:
    """The newest stored segmentation (run, k, silhouette, segment profiles), or None if none.

    Same shape as :meth:`SegmentationReport.to_dict`, plus ``started_at``/``finished_at``.
    """
    with session_scope(engine) as session:
        run = session.execute(_newest_run(select(AnalyticsRun))).scalar_one_or_none()
        if run is None:
            return None
        rows = (
            session.execute(
                select(SegmentProfile)
                .where(SegmentProfile.run_id == run.id)
                .order_by(SegmentProfile.segment)
            )
            .scalars()
            .all()
        )
        metrics = dict(run.metrics or {})
        params = dict(run.params or {})

        def extra(name: str, segment: int) -> Any:
            return (metrics.get(name) or {}).get(str(segment))

        segments = [
            {
                "segment": r.segment,
                "label": r.label,
                "size": r.size,
                "customer_share": extra("customer_share", r.segment),
                "favourite_category": r.favourite_category,
                "favourite_share": extra("favourite_share", r.segment),
                "purchases_per_month": r.purchases_per_month,
                "spend_per_month": r.spend_per_month,
                "recency_days": r.recency_days,
                "tenure_days": extra("tenure_days", r.segment),
                "category_shares": extra("category_shares", r.segment),
            }
            for r in rows
        ]
        return {
            "run_id": run.id,
            "model_version": run.model_version,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "as_of": params.get("as_of"),
            "k": metrics.get("k", len(segments)),
            "silhouette": metrics.get("silhouette"),
            "silhouette_by_k": metrics.get("silhouette_by_k"),
            "customers": metrics.get("customers", sum(s["size"] for s in segments)),
            "customers_without_purchases": metrics.get("customers_without_purchases"),
            "segments": segments,
        }


def customer_segment(engine: Engine, customer_id: int) -> dict[str, Any] | None:
    """The customer's segment in the newest stored run ({run_id, segment, label}), or None."""
    with session_scope(engine) as session:
        run_id = session.execute(_newest_run(select(AnalyticsRun.id))).scalar_one_or_none()
        if run_id is None:
            return None
        row = session.execute(
            select(CustomerSegment.segment, CustomerSegment.label).where(
                CustomerSegment.run_id == run_id, CustomerSegment.customer_id == customer_id
            )
        ).one_or_none()
        if row is None:
            return None
        return {"run_id": run_id, "segment": row.segment, "label": row.label}
