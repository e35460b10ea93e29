"""Sales reports and charts on a hand-made shop with known totals."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from analytics.reports.charts import HEIGHT_PX, WIDTH_PX, bar_chart, forecast_chart
from analytics.sales import parse_period, sales_report
from shop.errors import NoData
from shop.store import session_scope
from shop.store.models import Customer, Order, OrderItem, Product

WED = dt.date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    "text,start,end",
    [
        ("this week", dt.date(2026, 11, 23), dt.date(2026, 11, 26)),
        ("sales last week", dt.date(2026, 11, 16), dt.date(2026, 11, 23)),
        ("last month by category", dt.date(2026, 10, 1), dt.date(2026, 11, 1)),
        ("this month", dt.date(2026, 11, 1), dt.date(2026, 11, 26)),
        ("yesterday", dt.date(2026, 11, 24), dt.date(2026, 11, 25)),
        ("the last 30 days", dt.date(2026, 10, 27), dt.date(2026, 11, 26)),
        (None, dt.date(2026, 11, 19), dt.date(2026, 11, 26)),
    ],
)
def test_parse_period(text, start, end):
    p = parse_period(text, WED)
    assert (p.start, p.end) == (start, end)


def _order(s, number, customer, when, lines, status="delivered"):
    o = Order(order_number=number, customer_id=customer.id, status=status, placed_at=when, total=0)
    for product, qty in lines:
        o.items.append(OrderItem(product_id=product.id, quantity=qty, unit_price=product.price))
    o.total = sum(p.price * q for p, q in lines)
    s.add(o)


@pytest.fixture
def shop(engine):
    with session_scope(engine) as s:
        c = Customer(email="c@example.com")
        kettle = Product(sku="HOM-0001", name="Blue Enamel Kettle", category="home", price=40)
        shirt = Product(sku="CLO-0042", name="Linen Shirt", category="clothing", price=25)
        s.add_all([c, kettle, shirt])
        s.flush()
        # this week (Mon 23 – Wed 25): 2 kettles + 3 shirts, 1 shirt; a cancelled order ignored
        _order(s, 100001, c, dt.datetime(2026, 11, 23, 10), [(kettle, 2), (shirt, 3)])
        _order(s, 100002, c, dt.datetime(2026, 11, 25, 9), [(shirt, 1)])
        _order(s, 100003, c, dt.datetime(2026, 11, 24, 9), [(kettle, 9)], status="cancelled")
        # last week: 1 kettle
        _order(s, 100004, c, dt.datetime(2026, 11, 17, 12), [(kettle, 1)])
    return engine


def test_sales_report_this_week(shop):
    r = sales_report(shop, "top sellers this week")
    assert r.period.label == "this week"
    assert (r.revenue, r.orders, r.units) == (180.0, 2, 6)
    assert r.previous_revenue == 40.0 and r.change == pytest.approx(3.5)
    assert [c["category"] for c in r.by_category] == ["clothing", "home"]
    assert r.by_category[0]["revenue"] == 100.0
    assert r.by_category[1]["share"] == pytest.approx(80 / 180, abs=1e-4)
    assert [(p["sku"], p["units"]) for p in r.top_products] == [("CLO-0042", 4), ("HOM-0001", 2)]
    assert r.to_dict()["top_products"][1]["name"] == "Blue Enamel Kettle"


def test_sales_report_empty_period_and_empty_shop(shop, engine):
    r = sales_report(shop, "last month")
    assert (r.revenue, r.orders, r.top_products) == (0.0, 0, [])


def test_sales_report_without_orders(engine):
    with pytest.raises(NoData, match="no orders"):
        sales_report(engine, "this week")


def _image(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(png))


def test_charts_are_real_pngs_of_the_stated_size():
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(28)]
    fut = [dt.date(2026, 11, 29) + dt.timedelta(days=i) for i in range(14)]
    png = forecast_chart(
        "EL-1042",
        days,
        [i % 7 for i in range(28)],
        fut,
        [3] * 14,
        [2] * 14,
        [4] * 14,
        [1] * 14,
        [5] * 14,
    )
    img = _image(png)
    assert img.size == (WIDTH_PX, HEIGHT_PX)
    # not blank: many distinct colours (lines, bands, text)
    assert len(img.convert("RGB").getcolors(maxcolors=100000)) > 20
    assert _image(bar_chart("Revenue", ["home", "clothing"], [80, 100], "revenue")).size == (
        WIDTH_PX,
        HEIGHT_PX,
    )
