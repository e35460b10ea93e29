"""Demo customers: the planted groups A–E, churned customers, newcomers, noise and the accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shop.demo import vocab
from shop.demo.catalogue import TASTE_DIM
from shop.store.models import CATEGORIES

DAY = 86400
MONTH_DAYS = 365.25 / 12

# The reference case: favourite category, purchases a month, spend a month.
PLANTED_GROUPS = {
    "A": ("clothing", 3.0, 3000.0),
    "B": ("electronics", 2.0, 2000.0),
    "C": ("home", 1.0, 1500.0),
    "D": ("beauty", 52 / 12, 1000.0),
    "E": ("food", 3 * 52 / 12, 500.0),
}
# Each planted group's favourite category: what a segmentation of the demo shop should find.
PLANTED_FAVOURITES = {group: fav for group, (fav, _rate, _spend) in PLANTED_GROUPS.items()}
# The demo_group of the fixed demo accounts (the storefront's demo sign-in offers them first).
ACCOUNT_GROUP = "account"
# Share of the generated customers per demo_group (the two demo accounts come on top).
GROUP_SHARES = {
    "A": 0.14, "B": 0.14, "C": 0.14, "D": 0.12, "E": 0.07,
    "churned": 0.12, "new": 0.10, "noise": 0.17,
}  # fmt: skip
CHURN_GAP_DAYS = 190  # churned customers bought nothing in the last 190 days (> 6 months)
NEW_DAYS = 60  # newcomers signed up in the last 60 days
ACCOUNT_HISTORY_GAP_DAYS = 75  # the accounts' generated history ends here; fixed orders follow

# The demo accounts' buying habits (their fixed orders are in ``accounts.py``).
ACCOUNT_PROFILES: tuple[dict[str, Any], ...] = (
    dict(name="Ada Lovelace", email="ada@example.com", country="United Kingdom", city="London",
         signed_up_days_before=540, rate=2.2, value=160.0,
         cat_probs=(0.72, 0.08, 0.12, 0.05, 0.03)),
    dict(name="Grace Hopper", email="grace@example.com", country="United Kingdom",
         city="Edinburgh", signed_up_days_before=420, rate=1.3, value=210.0,
         cat_probs=(0.05, 0.30, 0.50, 0.05, 0.10)),
)  # fmt: skip


@dataclass
class People:
    """Customers as a frame (``id`` 1..n, accounts first) plus hidden buying habits per row."""

    frame: pd.DataFrame  # id, name, email, country, city, created_at, demo_group
    rate: np.ndarray  # orders a month
    value: np.ndarray  # mean order value
    cat_probs: np.ndarray  # (n, 5): probability that an order line is from each category
    profile: np.ndarray  # planted group whose habits the customer has ("" for noise, accounts)
    taste: np.ndarray  # (n, TASTE_DIM)
    bias: np.ndarray  # how generous the customer's ratings are
    active_from: np.ndarray  # first day index with possible orders
    active_to: np.ndarray  # day index after the last possible order

    def __len__(self) -> int:
        return len(self.frame)


def group_sizes(n: int) -> dict[str, int]:
    """How many of ``n`` generated customers fall in each demo group (largest remainder)."""
    names = list(GROUP_SHARES)
    raw = np.array([GROUP_SHARES[g] for g in names]) * n
    sizes = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - sizes), kind="stable")[: n - sizes.sum()]:
        sizes[i] += 1
    return dict(zip(names, sizes.tolist()))


def _slug(names: np.ndarray) -> np.ndarray:
    return np.array([re.sub(r"[^a-z]", "", s.lower()) for s in names], dtype=object)


def build_people(
    n_customers: int, days: int, start: np.datetime64, rng: np.random.Generator
) -> People:
    """``n_customers`` customers: the demo accounts (ids 1, 2), then the generated ones."""
    n_acc = len(ACCOUNT_PROFILES)
    n = n_customers - n_acc
    sizes = group_sizes(n)
    group = rng.permutation(np.repeat(np.array(list(sizes)), list(sizes.values())))
    as_of = start + np.timedelta64(days * DAY, "s")

    # Sign-up time: most before the window, the rest early enough to leave a history.
    before = rng.random(n) < 0.55
    late_span = max(days - 120, days // 2)
    offset_days = np.where(before, -rng.uniform(0, 700, n), rng.uniform(0, late_span, n))
    is_churned = group == "churned"
    churn_span = max(days - CHURN_GAP_DAYS - 60, 1)
    offset_days = np.where(
        is_churned, np.where(rng.random(n) < 0.7, -rng.uniform(0, 700, n), rng.uniform(0, churn_span, n)),
        offset_days,
    )  # fmt: skip
    is_new = group == "new"
    offset_days = np.where(is_new, days - rng.uniform(1, NEW_DAYS, n), offset_days)
    created = start + (offset_days * DAY).astype("timedelta64[s]")
    active_from = np.clip(np.floor(offset_days), 0, days).astype(int)
    # Churned customers stop buying more than CHURN_GAP_DAYS before the end (a window that ends
    # before it starts means no orders at all).
    last = max(days - CHURN_GAP_DAYS, 0)
    churn_end = active_from + np.maximum(30, rng.uniform(0.3, 1.0, n) * (last - active_from))
    active_to = np.where(is_churned, np.minimum(churn_end.astype(int), last), days)

    # Habits: planted groups near their reference values; churned and new customers behave like a
    # random planted group; noise customers anywhere.
    profile = np.where(np.isin(group, list(PLANTED_GROUPS)), group, "")
    borrowed = np.array(list(PLANTED_GROUPS))[rng.integers(0, 5, n)]
    profile = np.where(profile == "", borrowed, profile)
    fav = np.array([CATEGORIES.index(PLANTED_GROUPS[g][0]) for g in profile])
    g_rate = np.array([PLANTED_GROUPS[g][1] for g in profile])
    g_spend = np.array([PLANTED_GROUPS[g][2] for g in profile])
    rate = g_rate * rng.lognormal(0.0, 0.22, n)
    value = g_spend / g_rate * rng.lognormal(0.0, 0.2, n)
    fav_share = rng.uniform(0.70, 0.88, n)
    others = rng.dirichlet(np.full(4, 2.0), n) * (1 - fav_share)[:, None]
    probs = np.empty((n, 5))
    for i in range(n):
        probs[i, fav[i]] = fav_share[i]
        probs[i, np.arange(5) != fav[i]] = others[i]
    noise = group == "noise"
    k = int(noise.sum())
    rate[noise] = np.exp(rng.uniform(np.log(0.3), np.log(6.0), k))
    value[noise] = np.exp(rng.uniform(np.log(25.0), np.log(900.0), k))
    probs[noise] = rng.dirichlet(np.full(5, 0.8), k)

    # Accounts first, so that their ids are 1 and 2 whatever the seed.
    acc_created = np.array(
        [as_of - np.timedelta64(p["signed_up_days_before"] * DAY - 14 * 3600 - 180 * i, "s")
         for i, p in enumerate(ACCOUNT_PROFILES)]
    )  # fmt: skip
    acc_from = np.clip(
        np.array([days - p["signed_up_days_before"] for p in ACCOUNT_PROFILES]), 0, days
    )
    acc_to = np.full(n_acc, max(days - ACCOUNT_HISTORY_GAP_DAYS, 0))

    countries = list(vocab.COUNTRIES)
    cw = np.array([vocab.COUNTRIES[c][0] for c in countries])
    country = np.array(countries, dtype=object)[rng.choice(len(countries), n, p=cw / cw.sum())]
    city = np.array([vocab.COUNTRIES[c][1][j % len(vocab.COUNTRIES[c][1])]
                     for c, j in zip(country, rng.integers(0, 1000, n))], dtype=object)  # fmt: skip
    first = np.array(vocab.FIRST_NAMES, dtype=object)[rng.integers(0, len(vocab.FIRST_NAMES), n)]
    last_n = np.array(vocab.LAST_NAMES, dtype=object)[rng.integers(0, len(vocab.LAST_NAMES), n)]
    domain = np.array(vocab.EMAIL_DOMAINS, dtype=object)[
        rng.integers(0, len(vocab.EMAIL_DOMAINS), n)
    ]
    ids = np.arange(n_acc + 1, n_customers + 1)
    # The id in the address keeps emails unique (and never equal to a demo account's).
    email = _slug(first) + "." + _slug(last_n) + ids.astype(str).astype(object) + "@" + domain

    frame = pd.DataFrame(
        {
            "id": np.arange(1, n_customers + 1),
            "name": [p["name"] for p in ACCOUNT_PROFILES] + list(first + " " + last_n),
            "email": [p["email"] for p in ACCOUNT_PROFILES] + list(email),
            "country": [p["country"] for p in ACCOUNT_PROFILES] + list(country),
            "city": [p["city"] for p in ACCOUNT_PROFILES] + list(city),
            "created_at": np.concatenate([acc_created, created]).astype("datetime64[s]"),
            "demo_group": [ACCOUNT_GROUP] * n_acc + list(group),
        }
    )
    acc_probs = np.array([p["cat_probs"] for p in ACCOUNT_PROFILES])
    return People(
        frame=frame,
        rate=np.concatenate([[p["rate"] for p in ACCOUNT_PROFILES], rate]),
        value=np.concatenate([[p["value"] for p in ACCOUNT_PROFILES], value]),
        cat_probs=np.vstack([acc_probs, probs]),
        profile=np.concatenate([np.full(n_acc, ""), np.where(noise, "", profile)]).astype(object),
        taste=rng.normal(0.0, 1.0, size=(n_customers, TASTE_DIM)),
        bias=rng.normal(0.0, 0.35, size=n_customers),
        active_from=np.concatenate([acc_from, active_from]),
        active_to=np.concatenate([acc_to, active_to]),
    )
