"""Segment profiles and their names: "Electronics enthusiasts — 2 orders/month, 2,000/month"."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics.segmentation.features import SHARE_CATEGORIES
from shop.text import rough_money

if TYPE_CHECKING:
    from analytics.segmentation.model import Segmenter

# Naming thresholds (per segment medians).
LAPSED_DAYS = 90.0  # no order for three months
NEW_TENURE_DAYS = 60.0  # first order less than two months ago
ENTHUSIAST_SHARE = 0.5  # half of the spend goes to one category


def format_rate(per_month: float) -> str:
    """A purchase rate a person reads at a glance: "3 orders/week", "2 orders/month"."""
    per_week = per_month * 12 / 52
    # Weekly once that reads as at least "1 a week" (design.md's reference groups speak so).
    if per_week >= 0.95:
        value, unit = per_week, "week"
    else:
        value, unit = per_month, "month"
    text = f"{value:.0f}" if value >= 1.5 else f"{value:.1f}".removesuffix(".0")
    noun = "order" if text == "1" else "orders"
    return f"{text} {noun}/{unit}"


def _base_label(row: pd.Series) -> tuple[str, str]:
    """(name, detail) of one profile row: a lapsed, new, enthusiast or mixed segment."""
    detail = (
        f"{format_rate(row['purchases_per_month'])}, {rough_money(row['spend_per_month'])}/month"
    )
    if row["recency_days"] >= LAPSED_DAYS:
        return "Lapsed customers", f"last order ~{row['recency_days']:.0f} days ago"
    if np.isfinite(row["tenure_days"]) and row["tenure_days"] <= NEW_TENURE_DAYS:
        return "New customers", detail
    if row["favourite_share"] >= ENTHUSIAST_SHARE:
        return f"{row['favourite_category'].capitalize()} enthusiasts", detail
    return "Mixed shoppers", detail


def unique_labels(profiles: pd.DataFrame) -> list[str]:
    """A readable, unique label per profile row ("Electronics enthusiasts — 2 orders/month,
    2,000/month", "Lapsed customers"); names that repeat are told apart by category, then spend."""
    parts = [_base_label(row) for _, row in profiles.iterrows()]
    names = [name for name, _ in parts]
    counts = pd.Series(names).value_counts()
    labels = []
    for (name, detail), (_, row) in zip(parts, profiles.iterrows(), strict=True):
        if counts[name] == 1 and name in ("Lapsed customers", "New customers"):
            labels.append(name)
        elif counts[name] == 1 or name.endswith("enthusiasts"):
            labels.append(f"{name} — {detail}")
        else:
            mostly = row["favourite_share"] >= ENTHUSIAST_SHARE
            labels.append(f"{name} ({row['favourite_category'] if mostly else 'mixed'}) — {detail}")
    # Last resort when rounding makes two labels identical: number them.
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    if len(set(out)) != len(out):  # a numbered label collided with a real one
        out = [f"{label} [segment {i}]" for i, label in zip(profiles.index, out, strict=True)]
    return [label[:100] for label in out]


def format_profiles(profiles: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table of segment profiles (one line per segment)."""
    header = ("seg", "label", "customers", "favourite", "purchases/month", "spend/month", "recency")
    rows = [
        (
            str(p["segment"]),
            str(p["label"]),
            f"{p['size']:,}",
            str(p["favourite_category"]),
            f"{p['purchases_per_month']:.1f}",
            f"{p['spend_per_month']:,.0f}",
            f"{p['recency_days']:.0f} day{'' if round(p['recency_days']) == 1 else 's'}",
        )
        for p in profiles
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 2, 4, 5, 6}

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def num(value: Any) -> float | None:
    """A JSON-safe float (NaN -> None), rounded for reading."""
    value = float(value)
    return None if not math.isfinite(value) else round(value, 4)


def scores(model: Segmenter) -> dict[str, Any]:
    """JSON-ready k, silhouette and silhouette per k of a fitted model."""
    return {
        "k": model.k_,
        "silhouette": num(model.silhouette_),
        "silhouette_by_k": {str(k): num(v) for k, v in model.silhouette_by_k_.items()},
    }


def profile_dicts(profiles: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for segment, row in profiles.iterrows():
        out.append(
            {
                "segment": int(segment),
                "label": str(row["label"]),
                "size": int(row["size"]),
                "customer_share": num(row["customer_share"]),
                "favourite_category": str(row["favourite_category"]),
                "favourite_share": num(row["favourite_share"]),
                "purchases_per_month": num(row["purchases_per_month"]),
                "spend_per_month": num(row["spend_per_month"]),
                "recency_days": num(row["recency_days"]),
                "tenure_days": num(row["tenure_days"]),
                "category_shares": {c: num(row[f"share_{c}"]) for c in SHARE_CATEGORIES},
            }
        )
    return out
