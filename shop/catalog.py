"""Products recognised in what customers type, from the live catalogue (no model downloads).

A blank English spaCy pipeline with an ``entity_ruler`` whose patterns come from the products
table: every product name (lower-case token patterns), every SKU, and category words with their
synonyms ("kitchen" → home). Because the patterns are built from the database, a product added
to the shop is recognised after :meth:`CatalogMatcher.refresh_if_changed` — no dialogue model has
to be retrained. Phrases that are not a full name ("the blue kettle") are matched by a fuzzy
token overlap weighted by how rare each word is in the catalogue.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import spacy
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shop.errors import ModelMissing, NotFound
from shop.store.models import Inventory, Product
from shop.text import (
    MIN_NAME_SCORE,
    SKU_PATTERN,
    TYPO_CUTOFF,
    TYPO_WEIGHT,
    content_words,
    money,
)

PRODUCT_LABEL = "PRODUCT"
CATEGORY_LABEL = "CATEGORY"
# Categories live in their own span group so that a product name containing a category word
# ("Blue linen shirt") is still both a product and a clothing mention.
CATEGORY_SPANS = "category"
FORMAT_VERSION = 1
_META_FILE = "catalog.json"

# Words customers use for the shop's categories. The category names themselves are always added,
# including categories that only imported data has (e.g. "other").
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "clothing": (
        "clothing", "clothes", "apparel", "fashion", "shirt", "shirts", "t-shirt", "t-shirts",
        "tshirt", "tshirts", "dress", "dresses", "jacket", "jackets", "jeans", "trousers",
        "pants", "sweater", "sweaters", "hoodie", "hoodies", "shoes", "sneakers", "socks",
        "wear", "outfit", "outfits",
    ),
    "electronics": (
        "electronics", "electronic", "phone", "phones", "smartphone", "smartphones", "gadget",
        "gadgets", "tech", "laptop", "laptops", "headphones", "earbuds", "charger", "chargers",
        "tablet", "tablets", "speaker", "speakers", "camera", "cameras", "devices",
    ),
    "home": (
        "home", "kitchen", "kitchenware", "homeware", "homewares", "household", "furniture",
        "decor", "cookware", "bedding", "garden", "houseware",
    ),
    "beauty": (
        "beauty", "makeup", "make-up", "make up", "cosmetics", "skincare", "skin care",
        "perfume", "perfumes", "fragrance", "fragrances", "lipstick", "haircare", "hair care",
        "nail polish",
    ),
    "food": (
        "food", "foods", "groceries", "grocery", "snack", "snacks", "drinks", "beverages",
        "coffee", "tea", "chocolate", "pantry",
    ),
}  # fmt: skip

# Exact (ruler) matches score 1.0; fuzzy matches are capped below so they always rank after.
_FUZZY_CAP = 0.9


@dataclass(frozen=True)
class ProductMatch:
    sku: str
    name: str
    category: str
    score: float
    active: bool = True


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    name: str
    category: str
    brand: str | None
    price: Decimal
    active: bool
    on_hand: int
    on_order: int
    in_stock: bool
    restock_eta_days: int | None
    # False when the shop has no stock figures at all (nothing on hand or on order anywhere, as
    # after importing only sales): availability is then unknown, not "out of stock".
    stock_known: bool = True

    def describe(self) -> str:
        """A customer-facing sentence: price and availability (no exact stock counts)."""
        head = f"{self.name} ({self.sku}) costs {money(self.price)}"
        if not self.active:
            return f"{self.name} ({self.sku}) is no longer sold, sorry."
        if self.in_stock:
            return f"{head} and is in stock."
        if not self.stock_known:
            return f"{head}. I can't see its availability right now, sorry."
        if self.restock_eta_days is not None:
            return (
                f"{head} but is out of stock right now; more is on its way, expected in about "
                f"{self.restock_eta_days} days."
            )
        return f"{head} but is out of stock right now, with no restock date yet."

    def to_dict(self) -> dict:
        """The product as JSON-friendly values (price as a string, e.g. "45.00")."""
        data = asdict(self)
        data["price"] = money(self.price)
        return data


@dataclass(frozen=True)
class CatalogFingerprint:
    """What the catalogue looked like: changes when a product is added, removed or (de)activated."""

    count: int
    max_id: int
    max_created_at: str | None
    active_count: int

    def to_dict(self) -> dict:
        return asdict(self)


def catalogue_fingerprint(engine: Engine) -> CatalogFingerprint:
    """The current fingerprint of the products table (one aggregate query)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(Product.id),
                func.max(Product.id),
                func.max(Product.created_at),
                func.sum(case((Product.active.is_(True), 1), else_=0)),
            )
        ).one()
    created = row[2]
    if isinstance(created, dt.datetime):
        created = created.isoformat()
    return CatalogFingerprint(
        count=int(row[0] or 0),
        max_id=int(row[1] or 0),
        max_created_at=str(created) if created is not None else None,
        active_count=int(row[3] or 0),
    )


@dataclass
class _Entry:
    sku: str
    name: str
    category: str
    active: bool


class _Index:
    """Immutable lookup state; swapped as a whole on refresh so readers never see half of it."""

    def __init__(self, nlp, products: list[_Entry], fingerprint: CatalogFingerprint):
        self.nlp = nlp
        self.products = products
        self.fingerprint = fingerprint
        self.by_sku = {p.sku.upper(): i for i, p in enumerate(products)}
        self.postings: dict[str, set[int]] = defaultdict(set)
        for i, p in enumerate(products):
            for word in set(content_words(p.name)):
                self.postings[word].add(i)
        n = max(1, len(products))
        # Rare words ("kettle") tell more about the product meant than common ones ("blue").
        self.idf = {w: math.log(1 + n / len(ids)) for w, ids in self.postings.items()}
        self.unknown_idf = math.log(1 + n)
        self.vocabulary = sorted(self.postings)


class CatalogMatcher:
    """Finds products and categories in customer text; rebuilt cheaply when the catalogue changes."""

    def __init__(self, index: _Index):
        self._index = index
        self._lock = threading.Lock()
        self._last_check = 0.0

    # ---- building and persistence --------------------------------------------------------------

    @classmethod
    def build(cls, engine: Engine) -> CatalogMatcher:
        """A matcher built from the products table behind ``engine``."""
        return cls(_build_index(engine))

    def to_disk(self, path: str | Path) -> Path:
        """The folder where the spaCy pipeline and the product list were saved."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        index = self._index
        index.nlp.to_disk(path)
        meta = {
            "format": FORMAT_VERSION,
            "fingerprint": index.fingerprint.to_dict(),
            "products": [asdict(p) for p in index.products],
        }
        (path / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        return path

    @classmethod
    def from_disk(cls, path: str | Path) -> CatalogMatcher:
        """The matcher saved at ``path`` by :meth:`to_disk`; ModelMissing if there is none."""
        path = Path(path)
        meta_file = path / _META_FILE
        if not meta_file.is_file():
            raise ModelMissing(
                f"No product matcher at {path}. Run `shopbot train` to build it from the catalogue."
            )
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise ModelMissing(
                f"The product matcher at {path} has an old format. Run `shopbot train` again."
            )
        nlp = spacy.load(path)
        products = [_Entry(**p) for p in meta["products"]]
        return cls(_Index(nlp, products, CatalogFingerprint(**meta["fingerprint"])))

    @property
    def fingerprint(self) -> CatalogFingerprint:
        """The fingerprint of the catalogue this matcher was built from."""
        return self._index.fingerprint

    @property
    def nlp(self):
        """The spaCy pipeline (blank English + entity_ruler)."""
        return self._index.nlp

    def __len__(self) -> int:
        return len(self._index.products)

    def refresh_if_changed(self, engine: Engine, *, min_interval: float = 0.0) -> bool:
        """True if the catalogue changed and the matcher was rebuilt, else False.

        The check is one aggregate query; ``min_interval`` (seconds) skips even that when the
        last check was more recent, for callers that run it on every message.
        """
        now = time.monotonic()
        if min_interval and now - self._last_check < min_interval:
            return False
        self._last_check = now
        if catalogue_fingerprint(engine) == self._index.fingerprint:
            return False
        with self._lock:
            # Another thread may have rebuilt while we waited for the lock.
            if catalogue_fingerprint(engine) == self._index.fingerprint:
                return False
            self._index = _build_index(engine)
        return True

    # ---- matching ------------------------------------------------------------------------------

    def find(self, text: str, limit: int = 5) -> list[ProductMatch]:
        """Products the text mentions, best first: exact names and SKUs, then fuzzy matches."""
        if not isinstance(text, str) or not text.strip() or limit < 1:
            return []
        index = self._index
        text = text[:2000]
        scores: dict[int, float] = {}
        doc = index.nlp(text)
        for ent in doc.ents:
            if ent.label_ == PRODUCT_LABEL and ent.ent_id_:
                for i in _ids(ent.ent_id_):
                    scores.setdefault(i, 1.0)
        for match in SKU_PATTERN.finditer(text):
            known = index.by_sku.get(match.group(1).upper())
            if known is not None:
                scores.setdefault(known, 1.0)
        for i, score in self._fuzzy(index, text).items():
            if i not in scores:
                scores[i] = score
        ranked = sorted(
            scores.items(),
            key=lambda kv: (-kv[1], not index.products[kv[0]].active, index.products[kv[0]].name),
        )
        return [
            ProductMatch(
                sku=index.products[i].sku,
                name=index.products[i].name,
                category=index.products[i].category,
                score=round(score, 4),
                active=index.products[i].active,
            )
            for i, score in ranked[:limit]
        ]

    def find_category(self, text: str) -> str | None:
        """The category the text mentions ("kitchen stuff" → "home"), or None."""
        if not isinstance(text, str) or not text.strip():
            return None
        doc = self._index.nlp(text[:2000])
        for span in sorted(doc.spans.get(CATEGORY_SPANS, []), key=lambda s: s.start):
            if span.id_:
                return span.id_
        return None

    def _fuzzy(self, index: _Index, text: str) -> dict[int, float]:
        """Scores in (0, _FUZZY_CAP] for products sharing content words with the text."""
        query: list[tuple[str | None, float]] = []  # (catalogue word or None, weight factor)
        for word in dict.fromkeys(content_words(text)):
            if word in index.idf:
                query.append((word, 1.0))
                continue
            singular = _singular(word, index.idf)
            if singular:
                query.append((singular, 1.0))
                continue
            close = (
                difflib.get_close_matches(word, index.vocabulary, n=1, cutoff=TYPO_CUTOFF)
                if len(word) >= 4
                else []
            )
            query.append((close[0], TYPO_WEIGHT) if close else (None, 1.0))
        known = [(w, f) for w, f in query if w is not None]
        if not known:
            return {}
        # Words the catalogue doesn't know still count against every product ("purple kettle"
        # is a weaker match for "Steel Kettle" than "kettle" alone), at a moderate weight.
        unknown_weight = sum(index.unknown_idf / 2 for w, _ in query if w is None)
        query_weight = sum(index.idf[w] for w, _ in known) + unknown_weight
        candidates: set[int] = set()
        for word, _ in known:
            candidates |= index.postings[word]
        scores = {}
        for i in candidates:
            name_words = set(content_words(index.products[i].name))
            matched = sum(index.idf[w] * f for w, f in known if w in name_words)
            name_weight = sum(index.idf.get(w, 0.0) for w in name_words) or 1.0
            # Mostly "how much of what they said is in the name", a little "how much of the name
            # did they say", so "blue kettle" prefers "Blue Kettle" over "Blue Kettle Descaler".
            score = _FUZZY_CAP * (
                0.75 * matched / query_weight + 0.25 * min(1.0, matched / name_weight)
            )
            if score >= MIN_NAME_SCORE:
                scores[i] = score
        return scores


def _singular(word: str, vocabulary: dict[str, float]) -> str | None:
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in vocabulary:
            return word[: -len(suffix)]
    return None


def _ids(ent_id: str) -> list[int]:
    return [int(i) for i in ent_id.split(",") if i]


def _load_products(engine: Engine) -> list[_Entry]:
    with Session(engine, future=True) as session:
        rows = session.execute(
            select(Product.sku, Product.name, Product.category, Product.active).order_by(Product.id)
        ).all()
    return [_Entry(sku=r[0], name=r[1], category=r[2] or "other", active=bool(r[3])) for r in rows]


def _build_index(engine: Engine) -> _Index:
    # Fingerprint first: if a product is added while building, the next check sees a change.
    fingerprint = catalogue_fingerprint(engine)
    products = _load_products(engine)
    nlp = spacy.blank("en")
    ruler: Any = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    # Products sharing a name (or SKU) share one pattern whose id lists all of them.
    by_key: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, product in enumerate(products):
        by_key[_key(nlp, product.name)].append(i)
        by_key[_key(nlp, product.sku)].append(i)
    patterns: list[dict] = []
    for key, ids in by_key.items():
        if key:
            ids_text = ",".join(str(i) for i in sorted(set(ids)))
            patterns.append(
                {"label": PRODUCT_LABEL, "id": ids_text, "pattern": [{"LOWER": t} for t in key]}
            )
    ruler.add_patterns(patterns)
    category_ruler: Any = nlp.add_pipe(
        "span_ruler", name="category_ruler", config={"spans_key": CATEGORY_SPANS}
    )
    category_patterns = []
    categories = {p.category for p in products} | set(CATEGORY_SYNONYMS)
    for category in sorted(categories):
        for phrase in sorted({category, *CATEGORY_SYNONYMS.get(category, ())}):
            key = _key(nlp, phrase)
            if key:
                category_patterns.append(
                    {
                        "label": CATEGORY_LABEL,
                        "id": category,
                        "pattern": [{"LOWER": t} for t in key],
                    }
                )
    category_ruler.add_patterns(category_patterns)
    return _Index(nlp, products, fingerprint)


def _key(nlp, text: str) -> tuple[str, ...]:
    return tuple(t.lower_ for t in nlp.make_doc(text) if not t.is_space)


# ---- product facts -----------------------------------------------------------------------------


def product_info(session: Session, sku: str) -> ProductInfo:
    """Price and availability of the product with ``sku``; NotFound if there is none."""
    wanted = (sku or "").strip().upper() if isinstance(sku, str) else ""
    row = None
    if wanted:
        row = session.execute(
            select(Product, Inventory)
            .outerjoin(Inventory, Inventory.product_id == Product.id)
            .where(func.upper(Product.sku) == wanted)
        ).first()
    if row is None:
        shown = wanted or "that"
        raise NotFound(
            f"I couldn't find a product with the code {shown}. Check the code on the product "
            "page, or tell me the product's name and I'll look it up."
        )
    product, inventory = row
    on_hand = int(inventory.on_hand) if inventory else 0
    on_order = int(inventory.on_order) if inventory else 0
    in_stock = bool(product.active) and on_hand > 0
    # Stock on order arrives within the lead time; without a purchase date that is the best bound.
    eta = int(inventory.lead_time_days) if inventory and not in_stock and on_order > 0 else None
    stock_known = in_stock or on_order > 0 or _shop_has_stock_figures(session)
    return ProductInfo(
        sku=product.sku,
        name=product.name,
        category=product.category,
        brand=product.brand,
        price=Decimal(str(product.price)).quantize(Decimal("0.01")),
        active=bool(product.active),
        on_hand=on_hand,
        on_order=on_order,
        in_stock=in_stock,
        restock_eta_days=eta if product.active else None,
        stock_known=stock_known,
    )


def _shop_has_stock_figures(session: Session) -> bool:
    """True when some active product has stock on hand or on order (analytics.data's rule)."""
    row = session.execute(
        select(Inventory.product_id)
        .join(Product, Product.id == Inventory.product_id)
        .where(Product.active.is_(True), (Inventory.on_hand > 0) | (Inventory.on_order > 0))
        .limit(1)
    ).first()
    return row is not None
