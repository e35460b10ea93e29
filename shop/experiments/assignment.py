"""Deterministic assignment: a hash of experiment key + customer id gives a point in [0, 1); the
arms own consecutive slices of [0, 1) in their listed order.

Changing the weights moves only the customers whose point falls in the part of a slice that
changed hands (50/50 → 60/40 moves the 10 % in [0.5, 0.6)), and a customer's first assignment is
stored anyway (``experiment_assignments``), so nobody switches arm mid-experiment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any


def bucket(key: str, customer_id: int) -> float:
    """The customer's point in [0, 1) for experiment ``key`` (SHA-256, 64 bits)."""
    digest = hashlib.sha256(f"{key}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_arms(arms: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The arms with weights normalised to sum to 1; ValueError if malformed."""
    if len(arms) < 2:
        raise ValueError("an experiment needs at least two arms")
    names = [str(a.get("name", "")).strip() for a in arms]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError("every arm needs its own name")
    weights = [float(a.get("weight", 1.0)) for a in arms]
    if any(w <= 0 for w in weights):
        raise ValueError("arm weights must be positive")
    total = sum(weights)
    return [{**a, "name": n, "weight": w / total} for a, n, w in zip(arms, names, weights)]


def arm_for(key: str, customer_id: int, arms: Sequence[dict[str, Any]]) -> str:
    """The name of the arm whose slice of [0, 1) holds the customer's point."""
    point = bucket(key, customer_id)
    edge = 0.0
    for arm in check_arms(arms):
        edge += arm["weight"]
        if point < edge:
            return str(arm["name"])
    return str(arms[-1]["name"])  # rounding: the point lies just under 1
