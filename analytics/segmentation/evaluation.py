"""How good a segmentation is: silhouette, and on a shop with planted customer groups (the demo
shop) the agreement with them: adjusted Rand index, purity, and where each group landed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sqlalchemy.engine import Engine

from analytics.segmentation.features import load_features
from analytics.segmentation.model import Segmenter
from analytics.segmentation.profiles import format_profiles, num, profile_dicts, scores
from analytics.segmentation.stability import DEFAULT_RESAMPLES, bootstrap_stability


def planted_agreement(
    segments: pd.Series,
    groups: pd.Series,
    planted: Mapping[str, str],
    labels: Mapping[int, str] | None = None,
    favourites: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """How fitted segments match planted groups: ARI, purity and where each group landed.

    ``segments`` and ``groups`` are aligned per customer; ``planted`` maps each planted group to
    its favourite category (the demo shop's ``shop.demo.PLANTED_FAVOURITES``). Only customers
    of the planted groups count for the ARI and purity; customers of other groups (churned, new,
    noise, …) are summarised separately under ``other_groups``.
    """
    df = pd.DataFrame({"segment": np.asarray(segments), "group": np.asarray(groups, dtype=object)})
    members = df[df["group"].isin(list(planted))]
    if members.empty:
        return {"ari": None, "purity": None, "customers": 0, "groups": {}, "other_groups": {}}
    table = pd.crosstab(members["group"], members["segment"])
    groups_out = {}
    for group, row in table.iterrows():
        dominant = int(row.idxmax())
        groups_out[str(group)] = {
            "customers": int(row.sum()),
            "planted_favourite": planted[str(group)],
            "dominant_segment": dominant,
            "dominant_label": (labels or {}).get(dominant),
            "dominant_favourite": (favourites or {}).get(dominant),
            "share_in_dominant": num(row.max() / row.sum()),
            "segments": {str(int(s)): int(c) for s, c in row.items() if c},
        }
    others = {}
    for group, sub in df[~df["group"].isin(list(planted))].groupby(df["group"].fillna("(none)")):
        counts = sub["segment"].value_counts()
        others[str(group)] = {
            "customers": int(len(sub)),
            "dominant_segment": int(counts.index[0]),
            "dominant_label": (labels or {}).get(int(counts.index[0])),
            "share_in_dominant": num(counts.iloc[0] / len(sub)),
        }
    return {
        "customers": int(len(members)),
        "ari": num(adjusted_rand_score(members["group"], members["segment"])),
        # Cluster purity: each segment counts the planted group most of its members come from.
        "purity": num(table.max(axis=0).sum() / table.to_numpy().sum()),
        "groups": groups_out,
        "other_groups": others,
    }


def _evaluate_fit(
    model: Segmenter,
    features: pd.DataFrame,
    customers: pd.DataFrame,
    planted: Mapping[str, str] | None,
) -> dict:
    out: dict[str, Any] = {
        **scores(model),
        "segments": [
            {
                key: p[key]
                for key in (
                    "segment",
                    "label",
                    "size",
                    "favourite_category",
                    "purchases_per_month",
                    "spend_per_month",
                    "recency_days",
                )
            }
            for p in profile_dicts(model.profiles_)
        ],
    }
    groups = customers.set_index("customer_id")["demo_group"].reindex(features.index)
    if planted and groups.notna().any():
        out["planted"] = planted_agreement(
            pd.Series(model.labels_, index=features.index),
            groups,
            planted,
            labels=model.segment_labels_,
            favourites=model.profiles_["favourite_category"].to_dict(),
        )
    else:
        out["planted"] = None
    return out


def evaluate_segments(
    engine: Engine,
    *,
    k: int | None = None,
    random_state: int = 0,
    planted: Mapping[str, str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """Quality of a fresh segmentation of the store (nothing is stored).

    Gives the silhouette and k, and the stability of the segmentation on any shop: the bootstrap
    ARI over ``resamples`` refits with k chosen inside each (``stability``; 0 skips it); with ``planted`` (group -> favourite category) and customers that
    carry a ``demo_group`` (the demo shop), also the adjusted Rand index against those groups
    with a contingency summary. When k was chosen by silhouette and is not the number of planted
    groups, the same is reported for that k under ``at_k5``.
    """
    features, customers, as_of = load_features(engine)
    model = Segmenter(k=k, random_state=random_state).fit(features)
    result: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "customers": len(features),
        "customers_without_purchases": int(features.attrs.get("customers_without_purchases", 0)),
        "k_requested": k,
        **_evaluate_fit(model, features, customers, planted),
    }
    if resamples:
        result["stability"] = bootstrap_stability(
            features, model, resamples=resamples, k=k, random_state=random_state
        )
    if planted and k is None and model.k_ != len(planted) and result["planted"] is not None:
        model5 = Segmenter(k=len(planted), random_state=random_state).fit(features)
        result["at_k5"] = _evaluate_fit(model5, features, customers, planted)
    return result


def format_evaluation(result: Mapping[str, Any]) -> str:
    """A readable summary of :func:`evaluate_segments`' result."""
    lines = [
        f"Segmentation of {result['customers']:,} customers as of {result['as_of'][:10]}",
    ]

    def block(title: str, r: Mapping[str, Any]) -> None:
        sil = r["silhouette"]
        by_k = ", ".join(
            f"k={k}: {v:.3f}" if v is not None else f"k={k}: n/a"
            for k, v in r["silhouette_by_k"].items()
        )
        lines.append("")
        lines.append(f"{title}: k={r['k']}, silhouette {sil:.3f}" if sil is not None else title)
        lines.append(f"  silhouette by k: {by_k}")
        lines.append(format_profiles(r["segments"]))
        planted = r.get("planted")
        if planted and planted.get("ari") is not None:
            lines.append(
                f"  planted groups A–E ({planted['customers']:,} customers): "
                f"adjusted Rand index {planted['ari']:.3f}, purity {planted['purity']:.3f}"
            )
            for g, info in planted["groups"].items():
                ok = "ok" if info["dominant_favourite"] == info["planted_favourite"] else "MISMATCH"
                lines.append(
                    f"    {g} ({info['planted_favourite']}): {info['share_in_dominant']:.0%} in "
                    f"segment {info['dominant_segment']} ({info['dominant_label']}) [{ok}]"
                )
            for g, info in planted["other_groups"].items():
                lines.append(
                    f"    {g}: {info['customers']:,} customers, {info['share_in_dominant']:.0%} in "
                    f"segment {info['dominant_segment']} ({info['dominant_label']})"
                )
        elif planted is None:
            lines.append(
                "  (no planted demo groups in this database: only the silhouette is known)"
            )

    block("Chosen" if result.get("k_requested") is None else "Requested", result)
    st = result.get("stability")
    if st and st.get("ari_mean") is not None:
        how = "k chosen by silhouette in each" if st["k_by_silhouette"] else f"k={result['k']}"
        lines += [
            "",
            f"Stability ({st['resamples']} bootstrap resamples of the customers, {how}): "
            f"adjusted Rand index with the full fit mean {st['ari_mean']:.3f}, 5th percentile "
            f"{st['ari_p05']:.3f}, minimum {st['ari_min']:.3f}; k chosen: {st['k_chosen']}",
        ]
    if "at_k5" in result:
        block("With k=5", result["at_k5"])
    return "\n".join(lines)
