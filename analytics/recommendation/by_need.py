"""Products by need: "something for the kitchen", "a gift for a runner", "a warm jumper".

The catalogue (name, category, description) is embedded once per ``shopbot train`` with the
sentence encoder (``analytics.text_encoder``); a customer's need is embedded per request and the
products closest in meaning are the candidates. A product added after training is found after the
next ``shopbot train`` (no Rasa retraining). The recommender then orders the candidates by taste
(``Recommender.recommend_for_need``).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from shop.store.models import CATEGORIES

# A product is a candidate when its similarity to the need is at least MIN_SIMILARITY and within
# MARGIN of the best product's: "for the kitchen" keeps the kettles and pans, not every lamp.
MIN_SIMILARITY = 0.3
MARGIN = 0.12

# The request around a need: "can you recommend something for the kitchen?" -> "for the kitchen".
_REQUEST = re.compile(
    r"""^\W*(?:
        (?:hi|hello|hey)\W+
      | (?:please|pls|plz)\s+
      | (?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?
      | i(?:'m|\s+am)\s+(?:looking|searching|shopping)\s+(?:for\s+)?
      | i(?:'d|\s+would)\s+like\s+(?:to\s+(?:buy|get|see|find)\s+)?
      | i\s+(?:want|need)\s+(?:to\s+(?:buy|get|find)\s+)?
      | (?:do|does)\s+(?:you|the\s+shop)\s+(?:have|sell|stock|carry)\s+
      | have\s+you\s+got\s+
      | (?:recommend|suggest|show|find|give|get)\s+(?:me\s+|us\s+)?
      | (?:any|some)\s+(?:ideas|suggestions|recommendations|tips)\s+(?:for|on)\s+
      | what\s+(?:would|do|can)\s+you\s+(?:recommend|suggest)\s+
      | what\s+should\s+i\s+(?:buy|get)\s+
      | (?:something|anything|some\s+things|things|stuff|a\s+product|products|items?)\s+
      | (?:good|nice|great|useful|cool)\s+
    )""",
    re.I | re.X,
)
_FILLER = re.compile(r"\b(please|pls|thanks|thank you|for me|to buy)\b|[?!.]+", re.I)
_GENERIC = re.compile(
    r"^(?:\b(?:a|an|the|some|any|me|us|to|for|you|recommend\w*|suggest\w*|popular|bestsellers?|"
    r"good|best|new|nice|products?|items?|things?|stuff|something|anything|else|what|buy|"
    r"shop|today|now|should|i|would|could|can|do|get|like|want|need|ideas?|suggestions?|give|"
    r"show|have|got|sell)\b|\s)*$",
    re.I,
)


def need_of(text: str) -> str | None:
    """The need in a request, or None when it names none ("recommend me something") or only a
    category ("some electronics": the category filter's job)."""
    rest = (text or "").strip()
    while True:
        stripped = _REQUEST.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    rest = " ".join(_FILLER.sub(" ", rest).split())
    bare = re.sub(r"^(?:a|an|the|some|any)\s+", "", rest, flags=re.I).lower()
    if not rest or _GENERIC.match(rest) or bare in CATEGORIES:
        return None
    return rest


def product_text(name: str, category: str, description: str | None) -> str:
    """What is embedded for a product: its name, category and description."""
    parts = [f"{name} ({category})."]
    if description and str(description).strip() and str(description).strip() != str(name):
        parts.append(str(description).strip())
    return " ".join(parts)


# A product's score blends the whole text's similarity with its best sentence's ("A kettle to boil
# water … in the kitchen."): the whole text alone lets names and brands drown the use.
SENTENCE_WEIGHT = 0.5
# "A gift for a runner": anything can be a gift, the runner is the need.
_GIFT = re.compile(
    r"^(?:(?:a|an|some)\s+)?(?:little\s+|nice\s+|small\s+)?(?:gift|present)s?\s+(?=for\b)", re.I
)


def query_text(need: str) -> str:
    """What is embedded for a need."""
    return _GIFT.sub("", need).strip() or need


def sentences(text: str) -> list[str]:
    """A product text's sentences (the name and category form the first)."""
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+", text) if part.strip()]


@dataclasses.dataclass
class CatalogueIndex:
    """The catalogue's embeddings: one unit-length row per SKU for the whole text, and one per
    sentence of it (``owner`` maps a sentence row to its product)."""

    skus: list[str]
    vectors: np.ndarray  # (n, d) float32, rows of unit length
    sentence_vectors: np.ndarray  # (m, d)
    owner: np.ndarray  # (m,) product row of each sentence

    def scores(self, need: np.ndarray) -> np.ndarray:
        """Each product's similarity to the need (cosine, blended with its best sentence's)."""
        q = np.asarray(need, dtype=np.float32).ravel()
        best = np.full(len(self.skus), -1.0)
        np.maximum.at(best, self.owner, self.sentence_vectors @ q)
        return SENTENCE_WEIGHT * best + (1 - SENTENCE_WEIGHT) * (self.vectors @ q)

    def relevance(
        self,
        need: np.ndarray,
        *,
        min_similarity: float = MIN_SIMILARITY,
        margin: float = MARGIN,
    ) -> dict[str, float]:
        """SKU -> similarity for the products that meet the need (empty if none)."""
        if not len(self.skus):
            return {}
        sims = self.scores(need)
        best = float(sims.max())
        if best < min_similarity:
            return {}
        keep = np.flatnonzero(sims >= max(min_similarity, best - margin))
        return {self.skus[i]: float(sims[i]) for i in keep}

    def search(self, text: str, **kwargs) -> dict[str, float]:
        """:meth:`relevance` of a need given as text."""
        from analytics.text_encoder import encode

        return self.relevance(encode([query_text(text)])[0], **kwargs)


def build_index(products: pd.DataFrame) -> CatalogueIndex:
    """Embeds the catalogue (``analytics.data.load_products``: sku, name, category,
    description). Raises ``text_encoder.EncoderUnavailable`` when the encoder is not installed."""
    from analytics.text_encoder import DIMENSION, encode

    descriptions = (
        products["description"] if "description" in products.columns else [None] * len(products)
    )
    texts = [
        product_text(n, c, d)
        for n, c, d in zip(products["name"], products["category"], descriptions)
    ]
    parts = [sentences(t) for t in texts]
    owner = np.array([i for i, p in enumerate(parts) for _ in p], dtype=np.int64)
    flat = [sentence for p in parts for sentence in p]
    empty = np.zeros((0, DIMENSION), dtype=np.float32)
    return CatalogueIndex(
        skus=[str(s) for s in products["sku"]],
        vectors=encode(texts) if texts else empty,
        sentence_vectors=encode(flat) if flat else empty,
        owner=owner,
    )
