"""Trained analytics loaded once per process, for the action server and the CLI.

The action server calls :func:`get_analytics` at start; every method answers from memory (plus a
cheap stock refresh), never by refitting a model.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, NamedTuple

from sqlalchemy.engine import Engine

from analytics import artifacts
from shop.errors import ModelMissing
from shop.store import get_engine

log = logging.getLogger(__name__)

STOCK_REFRESH_SECONDS = 60.0


class NeedMatches(NamedTuple):
    """What search by need found: the need as read, the products, and how close in meaning the
    closest product is (cosine similarity; the ones the shop really sells score 0.55 and more
    in the demo, a need it cannot meet ("running shoes") about 0.35)."""

    need: str
    products: list[Any]
    closeness: float


class Analytics:
    """The latest trained artifacts (recommender, forecasts, …) and the store they came from."""

    def __init__(self, engine: Engine | None = None, version: str | None = None):
        self.engine = engine or get_engine()
        self.version = version or artifacts.latest_version()
        self._recommender: Any = None
        self.catalogue: Any = None
        self.forecasts: dict | None = None
        self._stock_checked = 0.0
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> Analytics:
        """Loads every artifact now (call at server start); missing ones are logged, not fatal."""
        try:
            self._recommender = artifacts.load("recommender", version=self.version)
        except ModelMissing as err:
            log.warning("recommender not loaded: %s", err)
        try:
            self.forecasts = artifacts.load("forecasts", version=self.version)
        except ModelMissing as err:
            log.warning("forecasts not loaded: %s", err)
        try:
            self.catalogue = artifacts.load("catalogue", version=self.version)
        except ModelMissing as err:
            log.warning("catalogue embedding not loaded (no search by need): %s", err)
        return self

    @property
    def recommender(self):
        if self._recommender is None:
            raise ModelMissing("recommendations are not trained yet — run `shopbot train`")
        self._refresh_stock()
        return self._recommender

    def _refresh_stock(self) -> None:
        # Stock changes between trainings; refresh the recommender's in-stock set now and then.
        if time.monotonic() - self._stock_checked < STOCK_REFRESH_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._stock_checked < STOCK_REFRESH_SECONDS:
                return
            from analytics.data import load_products

            update = getattr(self._recommender, "update_stock", None)
            if update is not None:
                update(load_products(self.engine))
            self._stock_checked = time.monotonic()

    # -- answers ---------------------------------------------------------------------------------
    def recommend(self, customer_id: int | None, n: int = 5, category: str | None = None):
        """Top-n products for a customer (or popular ones for a guest when customer_id is None)."""
        rec = self.recommender
        if customer_id is None:
            return rec.popular(n, category=category)
        return rec.recommend(customer_id, n, category=category)

    def for_need(self, customer_id: int | None, text: str, n: int = 5) -> NeedMatches | None:
        """The products for a request that states a need ("something for the kitchen"), best
        first and in stock; ``None`` when the text states no need or search by need is not
        trained. ``products`` is empty when nothing in the shop meets the need."""
        from analytics.recommendation.by_need import need_of

        need = need_of(text)
        if need is None or self.catalogue is None:
            return None
        from analytics.text_encoder import EncoderUnavailable

        try:
            relevance = self.catalogue.search(need)
        except EncoderUnavailable as err:
            log.warning("search by need failed: %s", err)
            return None
        products = self.recommender.recommend_for_need(relevance, customer_id, n, need=need)
        return NeedMatches(need, products, max(relevance.values(), default=0.0))

    def popular(self, n: int = 5, category: str | None = None):
        return self.recommender.popular(n, category=category)

    def similar(self, sku: str, n: int = 5):
        return self.recommender.similar(sku, n)


_instance: Analytics | None = None
_instance_lock = threading.Lock()


def get_analytics() -> Analytics:
    """The process-wide :class:`Analytics`, loaded on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Analytics().load()
        return _instance


def reset() -> None:
    """Forget the loaded artifacts (tests, or after `shopbot train` in the same process)."""
    global _instance
    with _instance_lock:
        _instance = None
