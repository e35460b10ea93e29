"""The demo catalogue: products with names, brands, prices and hidden traits that drive sales."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shop.demo import vocab
from shop.store.models import CATEGORIES, CATEGORY_CODES

# SKU numbering starts here per category (electronics uses the 1000s).
SKU_START = {"clothing": 1, "electronics": 1001, "home": 1, "beauty": 1, "food": 1}

# Products that exist whatever the seed (when the category is large enough for the position):
# (category, position in the category, name, brand, price). Chat tests and the storefront demo
# refer to them by SKU or name.
DEMO_PRODUCTS = (
    ("clothing", 0, "Slim Fit Linen Shirt", "Harbour & Hem", 39.90),
    ("clothing", 1, "Navy Merino Wool Jumper", "Northwind Apparel", 89.00),
    ("clothing", 41, "Blue Linen Shirt", "Harbour & Hem", 39.90),
    ("electronics", 0, "Wireless Earbuds Pro", "Auralis", 129.00),
    ("electronics", 41, "Noise-Cancelling Headphones Max", "Auralis", 249.00),
    ("home", 0, "Blue Enamel Kettle", "Kiln & Co", 34.90),
    ("beauty", 0, "Hydrating Rose Face Serum", "Petal Lab", 24.50),
    ("food", 0, "Organic Dark Chocolate", "Cocoa Coast", 3.49),
)

TASTE_DIM = 3  # size of the hidden taste vectors of products and customers
SLOW_MOVER_SHARE = 0.15
INACTIVE_SHARE = 0.03
LAUNCHED_SHARE = 0.06  # products launched during the window (no sales before)


def sku(category: str, position: int) -> str:
    """The SKU of the product at ``position`` (0-based) in ``category``, e.g. ``CLO-0042``."""
    return f"{CATEGORY_CODES[category]}-{SKU_START[category] + position:04d}"


def demo_product_skus() -> dict[str, str]:
    """SKU -> name of the fixed demo products (those whose category is large enough)."""
    return {sku(cat, pos): name for cat, pos, name, _brand, _price in DEMO_PRODUCTS}


@dataclass
class Catalogue:
    """Products as a frame (one row per product, ``id`` 1..n) plus hidden per-product traits."""

    frame: pd.DataFrame
    taste: np.ndarray  # (n, TASTE_DIM)
    replacement: np.ndarray  # row index of an always-available substitute for each product

    def __len__(self) -> int:
        return len(self.frame)


def describe(name: str, brand: str, category: str) -> str:
    """A product's description: what it is and what it is for (by the kind of item its name says)."""
    parts = [f"{name} by {brand}."]
    kinds = sorted(vocab.ITEM_NOTES, key=len, reverse=True)
    kind = next((k for k in kinds if k.lower() in name.lower()), None)
    if kind is not None:
        parts.append(vocab.ITEM_NOTES[kind])
    features = vocab.FEATURE_NOTES.get(category, {})
    parts += [note for word, note in features.items() if word.lower() in name.lower()]
    return " ".join(parts)


def _name_pool(category: str) -> list[tuple[str, float]]:
    """Every (name, typical price) the vocabulary can make for ``category``."""
    out: list[tuple[str, float]] = []
    if category == "clothing":
        for item, (base, materials) in vocab.CLOTHING_ITEMS.items():
            for lead, mat in itertools.product(vocab.CLOTHING_LEADS, materials):
                out.append((f"{lead} {mat} {item}", base * vocab.CLOTHING_MATERIALS[mat]))
    elif category == "electronics":
        for item, (base, features) in vocab.ELECTRONICS_ITEMS.items():
            for feat, (ed, factor) in itertools.product(
                features, vocab.ELECTRONICS_EDITIONS.items()
            ):
                out.append((f"{feat} {item} {ed}".strip(), base * factor))
    elif category == "home":
        for item, (base, materials) in vocab.HOME_ITEMS.items():
            for colour, mat in itertools.product(vocab.HOME_COLOURS, materials):
                out.append(
                    (f"{colour} {mat} {item}", base * vocab.HOME_MATERIAL_FACTOR.get(mat, 1.0))
                )
    elif category == "beauty":
        for item, price in vocab.BEAUTY_ITEMS.items():
            for eff, ing in itertools.product(vocab.BEAUTY_EFFECTS, vocab.BEAUTY_INGREDIENTS):
                out.append((f"{eff} {ing} {item}", price))
    else:
        for item, (typical, flavours) in vocab.FOOD_ITEMS.items():
            for style, flav in itertools.product(vocab.FOOD_STYLES, flavours):
                out.append((f"{style} {flav} {item}", typical))
    return out


def _shop_price(raw: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Prices in cents the way shops write them: 149.99, 24.49, 3.49."""
    p = np.clip(raw, lo, hi)
    cents = np.where(
        p >= 100,
        np.round(p) * 100 - 1,
        np.where(p >= 10, np.round(p * 2) * 50 - 1, np.round(p * 10) * 10 - 1),
    )
    return np.maximum(cents, round(lo * 100)).astype(np.int64)


def category_sizes(n: int) -> dict[str, int]:
    """How many of ``n`` products fall in each category (largest remainder, at least 2 each)."""
    w = np.array(vocab.CATEGORY_WEIGHTS)
    raw = w * n
    sizes = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - sizes), kind="stable")[: n - sizes.sum()]:
        sizes[i] += 1
    return dict(zip(CATEGORIES, sizes.tolist()))


def build_catalogue(n: int, days: int, start: np.datetime64, rng: np.random.Generator) -> Catalogue:
    """``n`` products over the five categories; row i has id i + 1."""
    rows: list[dict] = []
    sizes = category_sizes(n)
    for cat in CATEGORIES:
        size = sizes[cat]
        anchors = {pos: (name, brand, price) for c, pos, name, brand, price in DEMO_PRODUCTS
                   if c == cat and pos < size}  # fmt: skip
        taken = {a[0] for a in anchors.values()}
        pool = [p for p in _name_pool(cat) if p[0] not in taken]
        order = rng.permutation(len(pool))
        free = size - len(anchors)
        picks = [pool[i] for i in order[: min(free, len(pool))]]
        # A huge catalogue outgrows the vocabulary: repeat names as numbered editions.
        for k in range(free - len(picks)):
            name, base = pool[order[k % len(pool)]]
            picks.append((f"{name} Edition {k // len(pool) + 2}", base))
        lo, hi = vocab.PRICE_RANGE[cat]
        raw = np.array([b for _, b in picks]) * rng.lognormal(0.0, 0.18, size=len(picks))
        cents = _shop_price(raw, lo, hi)
        brands = rng.choice(len(vocab.BRANDS[cat]), size=len(picks))
        it = iter(range(len(picks)))
        for pos in range(size):
            if pos in anchors:
                name, brand, price = anchors[pos]
                rows.append(dict(category=cat, name=name, brand=brand,
                                 price_cents=round(price * 100), anchor=True))  # fmt: skip
            else:
                j = next(it)
                rows.append(dict(category=cat, name=picks[j][0], brand=vocab.BRANDS[cat][brands[j]],
                                 price_cents=int(cents[j]), anchor=False))  # fmt: skip
            rows[-1]["sku"] = sku(cat, pos)
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["cat_idx"] = frame["category"].map({c: i for i, c in enumerate(CATEGORIES)})
    frame["description"] = [
        describe(n, b, c) for n, b, c in zip(frame["name"], frame["brand"], frame["category"])
    ]
    anchor = frame["anchor"].to_numpy()
    m = len(frame)

    # Hidden traits: demand pattern, quality (drives ratings and returns) and taste.
    draw = rng.random(m)
    slow = (draw < SLOW_MOVER_SHARE) & ~anchor
    inactive = (draw >= SLOW_MOVER_SHARE) & (draw < SLOW_MOVER_SHARE + INACTIVE_SHARE) & ~anchor
    launched = (draw >= 0.5) & (draw < 0.5 + LAUNCHED_SHARE) & ~anchor
    popularity = rng.lognormal(0.0, 0.7, size=m) * np.where(slow, 0.02, 1.0)
    frame["slow"] = slow
    frame["active"] = ~inactive
    frame["popularity"] = popularity
    frame["quality"] = rng.normal(0.0, 0.6, size=m)
    taste = rng.normal(0.0, 1.0, size=(m, TASTE_DIM))
    avail_from = np.where(launched, (rng.uniform(0.15, 0.85, size=m) * days).astype(int), 0)
    avail_to = np.where(inactive, (rng.uniform(0.3, 0.9, size=m) * days).astype(int), days)
    frame["avail_from"] = avail_from
    frame["avail_to"] = avail_to
    before = start - (rng.uniform(30, 1000, size=m) * 86400).astype("timedelta64[s]")
    launch = start + (avail_from * 86400 - rng.uniform(2, 20, size=m) * 86400).astype(
        "timedelta64[s]"
    )
    frame["created_at"] = np.where(launched, launch, before)

    # A substitute for each product, used when a shopper picks it outside its selling window:
    # the closest-priced always-available regular product of the same category.
    logp = np.log(frame["price_cents"].to_numpy())
    cat_idx = frame["cat_idx"].to_numpy()
    steady = (avail_from == 0) & (avail_to == days) & ~slow
    replacement = np.arange(m)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(cat_idx == c)
        ok = members[steady[members]]
        if len(ok) == 0:
            continue
        dist = np.abs(logp[members][:, None] - logp[ok][None, :])
        replacement[members] = ok[np.argmin(dist, axis=1)]
    return Catalogue(frame, taste, replacement)
