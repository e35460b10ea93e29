"""Recognising products and categories from the live catalogue; product facts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shop.catalog import CatalogMatcher, catalogue_fingerprint, product_info
from shop.errors import ModelMissing, NotFound
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import Inventory, Product

PRODUCTS = [
    ("HOM-0007", "Blue Enamel Kettle", "home", "Kitchenly", "45.00"),
    ("HOM-0008", "Blue Enamel Mug", "home", "Kitchenly", "12.50"),
    ("HOM-0009", "Steel Kettle", "home", "Kitchenly", "29.99"),
    ("HOM-0010", "Kettle Descaler Tablets", "home", None, "4.99"),
    ("CLO-0042", "Blue linen shirt", "clothing", "Linea", "39.90"),
    ("CLO-0043", "Red wool sweater", "clothing", "Linea", "59.00"),
    ("EL-0101", "Wireless Earbuds Pro", "electronics", "Sonic", "89.00"),
    ("BEA-0200", "Velvet Matte Lipstick", "beauty", "Glow", "15.00"),
    ("FOO-0300", "Dark Chocolate Sea Salt", "food", "Cacao", "3.50"),
]


def _add_products(engine, rows, *, when=dt.datetime(2026, 1, 1)):
    with session_scope(engine) as s:
        for sku, name, category, brand, price in rows:
            s.add(
                Product(
                    sku=sku,
                    name=name,
                    category=category,
                    brand=brand,
                    price=Decimal(price),
                    created_at=when,
                )
            )


@pytest.fixture
def shop(engine):
    _add_products(engine, PRODUCTS)
    with session_scope(engine) as s:
        by_sku = {p.sku: p for p in s.query(Product).all()}
        s.add_all(
            [
                Inventory(product_id=by_sku["HOM-0007"].id, on_hand=12, on_order=0),
                Inventory(
                    product_id=by_sku["HOM-0008"].id, on_hand=0, on_order=40, lead_time_days=10
                ),
                Inventory(product_id=by_sku["HOM-0009"].id, on_hand=0, on_order=0),
            ]
        )
    return engine


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    """A matcher over a shared, read-only shop (built once: migrations and spaCy take time)."""
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'shop.db'}")
    upgrade(eng)
    _add_products(eng, PRODUCTS)
    yield CatalogMatcher.build(eng)
    eng.dispose()


@pytest.fixture
def own_matcher(shop):
    """A matcher over this test's own shop, for tests that change the catalogue."""
    return CatalogMatcher.build(shop)


def _skus(matches):
    return [m.sku for m in matches]


def test_blue_kettle_finds_blue_enamel_kettle_first(matcher):
    matches = matcher.find("do you have the blue kettle?")
    assert matches[0].sku == "HOM-0007"
    assert matches[0].name == "Blue Enamel Kettle"
    assert matches[0].category == "home"
    # Other kettles and other blue things follow, weaker.
    assert set(_skus(matches[1:4])) >= {"HOM-0009", "HOM-0008"}
    assert all(m.score < matches[0].score for m in matches[1:])
    assert matches[0].score < 1.0  # fuzzy, not exact


def test_exact_name_scores_one_and_ranks_first(matcher):
    matches = matcher.find("How much is the blue enamel mug")
    assert (matches[0].sku, matches[0].score) == ("HOM-0008", 1.0)
    assert matches[1].score < 1.0


def test_sku_in_text(matcher):
    assert _skus(matcher.find("is CLO-0042 in stock?"))[0] == "CLO-0042"
    assert matcher.find("price of clo-0043, please")[0].sku == "CLO-0043"
    assert matcher.find("price of clo-0043, please")[0].score == 1.0
    assert matcher.find("do you have XYZ-9999?") == []


def test_typos_and_plurals_tolerated(matcher):
    assert matcher.find("any wireles earbud?")[0].sku == "EL-0101"
    assert matcher.find("do you sell kettles")[0].sku in {"HOM-0009", "HOM-0007"}
    assert matcher.find("lipstik")[0].sku == "BEA-0200"


def test_nothing_found(matcher):
    assert matcher.find("do you have a trampoline?") == []
    assert matcher.find("") == []
    assert matcher.find(None) == []
    assert len(matcher.find("blue", limit=2)) == 2


@pytest.mark.parametrize(
    "text, category",
    [
        ("kitchen stuff", "home"),
        ("show me some makeup", "beauty"),
        ("any make-up on sale?", "beauty"),
        ("I need a new phone", "electronics"),
        ("gadgets for my dad", "electronics"),
        ("groceries", "food"),
        ("snacks please", "food"),
        ("clothes for winter", "clothing"),
        ("a shirt", "clothing"),
        ("do you have the blue linen shirt", "clothing"),
        ("something for the HOME", "home"),
        ("hello there", None),
        ("", None),
    ],
)
def test_category_synonyms(matcher, text, category):
    assert matcher.find_category(text) == category


def test_new_product_found_after_refresh_only(shop, own_matcher):
    matcher = own_matcher
    before = matcher.fingerprint
    assert matcher.find("copper teapot") == []
    assert matcher.refresh_if_changed(shop) is False
    _add_products(
        shop,
        [("HOM-0500", "Copper Teapot", "home", None, "55.00")],
        when=dt.datetime(2026, 6, 1),
    )
    assert matcher.find("copper teapot") == []  # not before refresh
    assert matcher.refresh_if_changed(shop) is True
    assert matcher.fingerprint != before
    assert matcher.fingerprint.count == before.count + 1
    found = matcher.find("do you have the copper teapot?")
    assert (found[0].sku, found[0].score) == ("HOM-0500", 1.0)
    assert matcher.find("HOM-0500")[0].name == "Copper Teapot"
    assert matcher.refresh_if_changed(shop) is False


def test_deactivation_changes_fingerprint(shop, own_matcher):
    matcher = own_matcher
    with session_scope(shop) as s:
        s.query(Product).filter(Product.sku == "HOM-0009").update({"active": False})
    assert matcher.refresh_if_changed(shop) is True
    steel = matcher.find("steel kettle")[0]
    assert (steel.sku, steel.active) == ("HOM-0009", False)


def test_disk_round_trip(shop, own_matcher, tmp_path):
    matcher = own_matcher
    matcher.to_disk(tmp_path / "catalog")
    loaded = CatalogMatcher.from_disk(tmp_path / "catalog")
    assert loaded.fingerprint == matcher.fingerprint
    assert loaded.fingerprint == catalogue_fingerprint(shop)
    assert loaded.nlp.pipe_names == ["entity_ruler", "category_ruler"]
    for text in ["the blue kettle", "CLO-0042", "blue enamel mug", "wireles earbud", "blue"]:
        assert loaded.find(text) == matcher.find(text)
    assert loaded.find_category("makeup") == "beauty"
    assert loaded.refresh_if_changed(shop) is False
    with pytest.raises(ModelMissing, match="shopbot train"):
        CatalogMatcher.from_disk(tmp_path / "nothing-here")


def test_product_info(shop):
    with session_scope(shop) as s:
        kettle = product_info(s, "hom-0007")
        mug = product_info(s, "HOM-0008")
        steel = product_info(s, " HOM-0009 ")
        shirt = product_info(s, "CLO-0042")  # no inventory row
        with pytest.raises(NotFound) as err:
            product_info(s, "XYZ-0001")
    assert (kettle.sku, kettle.name, kettle.brand, kettle.price) == (
        "HOM-0007",
        "Blue Enamel Kettle",
        "Kitchenly",
        Decimal("45.00"),
    )
    assert (kettle.on_hand, kettle.in_stock, kettle.restock_eta_days) == (12, True, None)
    assert kettle.describe() == "Blue Enamel Kettle (HOM-0007) costs 45.00 and is in stock."
    assert (mug.in_stock, mug.on_order, mug.restock_eta_days) == (False, 40, 10)
    assert mug.describe() == (
        "Blue Enamel Mug (HOM-0008) costs 12.50 but is out of stock right now; more is on its "
        "way, expected in about 10 days."
    )
    assert (steel.in_stock, steel.restock_eta_days) == (False, None)
    assert (shirt.on_hand, shirt.on_order, shirt.in_stock) == (0, 0, False)
    assert kettle.to_dict()["price"] == "45.00"
    assert str(err.value) == (
        "I couldn't find a product with the code XYZ-0001. Check the code on the product page, "
        "or tell me the product's name and I'll look it up."
    )


def test_product_info_on_postgresql(pg_engine):
    _add_products(pg_engine, PRODUCTS[:1])
    with session_scope(pg_engine) as s:
        info = product_info(s, "hom-0007")
    assert (info.sku, info.price, info.in_stock) == ("HOM-0007", Decimal("45.00"), False)
    matcher = CatalogMatcher.build(pg_engine)
    assert matcher.find("blue kettle")[0].sku == "HOM-0007"
    assert matcher.fingerprint.count == 1
