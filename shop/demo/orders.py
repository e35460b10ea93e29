"""Demo orders: when customers buy, what they put in the basket, and how each order is fulfilled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shop.demo import vocab
from shop.demo.calendar import Calendar
from shop.demo.catalogue import TASTE_DIM, Catalogue
from shop.demo.people import DAY, MONTH_DAYS, People
from shop.errors import ShopbotError
from shop.store.models import CATEGORIES

# Orders by hour of day (UTC): quiet at night, peak in the evening.
HOUR_WEIGHTS = np.array([0.35, 0.2, 0.12, 0.1, 0.1, 0.2, 0.5, 1.0, 1.4, 1.7, 1.9, 2.0,
                         2.3, 2.2, 2.0, 1.9, 2.0, 2.3, 2.7, 3.1, 3.2, 2.8, 1.9, 1.0])  # fmt: skip
PRICE_SPREAD = 0.9  # how far (in log price) from the price they have in mind shoppers look
PRICE_SHIFT = 0.4  # shoppers have a price a bit below the line value in mind (they buy 1-2 units)
PILOT_ORDERS = 20_000  # orders in the calibration run of the basket generator
TASTE_WEIGHT = 0.6  # how much hidden taste (vs. popularity) steers the choice
PROMO_USE = 0.65  # share of orders in a promotion window that use its code
CANCEL_SHARE = 0.02
RESERVED_NUMBERS = (104200, 104299)  # the demo accounts' order numbers live here
FIRST_NUMBER = 100000
LAST_NUMBER = 999999
EXCEPTION_SHARE = 0.1  # parcels in transit that hit a problem
CHUNK = 20_000

_TRANSIT = {"United Kingdom": (1, 3), "United States": (4, 8)}  # elsewhere: (2, 5)


def _pick_index(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """For each row of ``weights``, a column index drawn with those (unnormalised) weights."""
    cw = np.cumsum(weights, axis=1)
    r = rng.random(len(weights)) * cw[:, -1]
    return np.minimum((r[:, None] > cw).sum(axis=1), weights.shape[1] - 1)


def _order_times(cal: Calendar, ppl: People, rng: np.random.Generator):
    """(customer row, day index, placed_at) of every generated order."""
    w = np.concatenate([[0.0], np.cumsum(cal.intensity)])
    a, b = ppl.active_from, ppl.active_to
    open_ = b > a
    mass = np.where(open_, w[b] - w[np.minimum(a, b)], 0.0)
    count = rng.poisson(ppl.rate / MONTH_DAYS * mass)
    churned = (ppl.frame["demo_group"] == "churned").to_numpy()
    count = np.where(churned & open_, np.maximum(count, 1), count)
    cust = np.repeat(np.arange(len(ppl)), count)
    u = w[a[cust]] + rng.random(len(cust)) * mass[cust]
    day = np.clip(np.searchsorted(w, u, side="right") - 1, a[cust], b[cust] - 1)
    hour = rng.choice(24, size=len(cust), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    secs = hour * 3600 + rng.integers(0, 3600, len(cust))
    start = np.datetime64(cal.start, "s")
    placed = start + (day * DAY + secs).astype("timedelta64[s]")
    signed_up = ppl.frame["created_at"].to_numpy()[cust] + np.timedelta64(600, "s")
    placed = np.maximum(placed, signed_up)
    return cust, day, placed


def _choose_products(
    line_cust: np.ndarray,
    line_cat: np.ndarray,
    line_cents: np.ndarray,
    cat: Catalogue,
    ppl: People,
    rng: np.random.Generator,
) -> np.ndarray:
    """Product row per order line: popular, to the shopper's taste, and near the price they have
    in mind (a soft preference: the quantity makes up the rest of the line's value)."""
    frame = cat.frame
    logp = np.log(frame["price_cents"].to_numpy(dtype=float))
    pop = np.log(frame["popularity"].to_numpy())
    cat_idx = frame["cat_idx"].to_numpy()
    target = np.log(np.maximum(line_cents, 1.0)) - PRICE_SHIFT
    chosen = np.empty(len(line_cents), dtype=np.int64)
    scale = TASTE_WEIGHT / np.sqrt(TASTE_DIM)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(cat_idx == c)
        rows = np.flatnonzero(line_cat == c)
        for lo in range(0, len(rows), CHUNK):
            r = rows[lo : lo + CHUNK]
            affinity = ppl.taste[line_cust[r]] @ cat.taste[members].T
            closeness = -((logp[members][None, :] - target[r, None]) ** 2) / (2 * PRICE_SPREAD**2)
            score = pop[members][None, :] + scale * affinity + closeness
            weights = np.exp(score - score.max(axis=1, keepdims=True))
            chosen[r] = members[_pick_index(rng, weights)]
    return chosen


def _basket(cust, day, value, cat: Catalogue, ppl: People, rng: np.random.Generator):
    """(order index, product row, quantity) of the lines of orders worth about ``value`` each."""
    n = len(cust)
    n_lines = 1 + rng.poisson(np.clip(0.6 * np.log(value / 20 + 1), 0.2, 4.0))
    line_order = np.repeat(np.arange(n), n_lines)
    line_cust = cust[line_order]
    line_cents = (
        100 * value[line_order] / n_lines[line_order] * rng.lognormal(-0.045, 0.3, len(line_order))
    )
    cum = np.cumsum(ppl.cat_probs[line_cust], axis=1)
    line_cat = np.minimum((rng.random(len(line_order))[:, None] > cum).sum(axis=1), 4)
    product = _choose_products(line_cust, line_cat, line_cents, cat, ppl, rng)
    # Outside its selling window (not launched yet, discontinued) a product is not on sale.
    line_day = day[line_order]
    frame = cat.frame
    off_sale = (line_day < frame["avail_from"].to_numpy()[product]) | (
        line_day >= frame["avail_to"].to_numpy()[product]
    )
    product = np.where(off_sale, cat.replacement[product], product)
    price = frame["price_cents"].to_numpy()[product]
    max_q = np.array([vocab.MAX_QUANTITY[c] for c in CATEGORIES])[
        frame["cat_idx"].to_numpy()[product]
    ]
    # Stochastic rounding keeps the expected basket value equal to the intended one.
    want = line_cents / price * rng.lognormal(-0.011, 0.15, len(price))
    qty = np.clip(np.floor(want + rng.random(len(want))), 1, max_q).astype(np.int64)
    return line_order, product, qty


def generate_orders(
    cal: Calendar, cat: Catalogue, ppl: People, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random orders (with their fulfilment timeline and status) and their items.

    Orders are indexed 0..n-1 in generation order; items refer to them by that index (``order``)
    and to products by row (``product``). Numbers and ids are assigned by :func:`finalize`.
    """
    cust, day, placed = _order_times(cal, ppl, rng)
    n = len(cust)
    promo = cal.promo_index[day]
    uses_code = (promo >= 0) & (rng.random(n) < PROMO_USE)
    discount = np.where(
        uses_code, np.array([p.discount for p in cal.promotions] + [0.0])[promo], 0.0
    )
    codes = np.array([p.code for p in cal.promotions] + [None], dtype=object)
    promo_code = np.where(uses_code, codes[promo], None)  # type: ignore[call-overload]

    # Basket: a value around the customer's usual order, split over a few lines. A pilot run
    # measures how far the realised basket value drifts from the intended one (whole units,
    # price floors of categories) per planted profile, and the real run corrects for it.
    value = ppl.value[cust] * rng.lognormal(-0.06, 0.35, n)
    pilot = np.sort(rng.choice(n, size=min(n, PILOT_ORDERS), replace=False))
    p_order, p_product, p_qty = _basket(cust[pilot], day[pilot], value[pilot], cat, ppl, rng)
    list_price = cat.frame["price_cents"].to_numpy()
    realised = np.bincount(p_order, weights=p_qty * list_price[p_product], minlength=len(pilot))
    profile = ppl.profile[cust]
    correction = np.ones(n)
    for g in np.unique(profile[pilot]):
        if g:
            mask = profile[pilot] == g
            ratio = realised[mask].sum() / (100 * value[pilot][mask].sum())
            correction[profile == g] = 1 / ratio
    line_order, product, qty = _basket(cust, day, value * correction, cat, ppl, rng)
    frame = cat.frame
    items = pd.DataFrame({"order": line_order, "product": product, "quantity": qty})
    # The same product twice in a basket is one line with a larger quantity.
    items = items.groupby(["order", "product"], sort=True, as_index=False)["quantity"].sum()
    unit = np.round(
        frame["price_cents"].to_numpy()[items["product"].to_numpy()]
        * (1 - discount[items["order"].to_numpy()])
    ).astype(np.int64)
    items["unit_cents"] = unit
    total = np.bincount(items["order"], weights=items["quantity"] * unit, minlength=n)

    orders = pd.DataFrame(
        {"cust": cust, "placed_at": placed, "promo_code": promo_code,
         "total_cents": np.round(total).astype(np.int64)}
    )  # fmt: skip
    _fulfil(orders, ppl, rng, np.datetime64(cal.start, "s") + np.timedelta64(cal.days * DAY, "s"))
    return orders, items


def _fulfil(orders: pd.DataFrame, ppl: People, rng: np.random.Generator, as_of: np.datetime64):
    """Add payment, dispatch, delivery and cancellation times and the status as of ``as_of``."""
    n = len(orders)
    placed = orders["placed_at"].to_numpy()
    sec = lambda x: np.round(x).astype("timedelta64[s]")  # noqa: E731
    # Most pay at once; bank transfers and payment reviews take a day or so.
    paid_delay = np.where(
        rng.random(n) < 0.85, rng.uniform(30, 1200, n), rng.uniform(3600, 30 * 3600, n)
    )
    paid = placed + sec(paid_delay)
    shipped = paid + sec(rng.uniform(3 * 3600, 40 * 3600, n))
    country = ppl.frame["country"].to_numpy()[orders["cust"].to_numpy()]
    lo = np.array([_TRANSIT.get(c, (2, 5))[0] for c in country])
    hi = np.array([_TRANSIT.get(c, (2, 5))[1] for c in country])
    planned = rng.integers(lo, hi + 1)
    actual = np.maximum(planned + rng.choice([-1, 0, 0, 0, 0, 1, 2], n), 1)
    ship_day = shipped.astype("datetime64[D]")
    delivered = (ship_day + actual.astype("timedelta64[D]")).astype("datetime64[s]") + sec(
        rng.uniform(8 * 3600, 19 * 3600, n)
    )
    estimated = ship_day + planned.astype("timedelta64[D]")
    cancel = rng.random(n) < CANCEL_SHARE
    cancelled = placed + sec(rng.uniform(0.1, 0.9, n) * (shipped - placed).astype(float))

    is_uk = country == "United Kingdom"
    names = list(vocab.CARRIERS)
    uk_w = np.array([vocab.CARRIERS[c][0] for c in names])
    other_w = np.array([vocab.CARRIERS[c][1] for c in names])
    carrier_idx = np.where(
        is_uk,
        rng.choice(len(names), n, p=uk_w / uk_w.sum()),
        rng.choice(len(names), n, p=other_w / other_w.sum()),
    )

    nat = np.datetime64("NaT", "s")
    cancelled_now = cancel & (cancelled <= as_of)
    status = np.select(
        [cancelled_now, delivered <= as_of, shipped <= as_of, paid <= as_of],
        ["cancelled", "delivered", "shipped", "paid"],
        "pending",
    ).astype(object)
    keep_paid = np.where(cancelled_now, paid <= cancelled, paid <= as_of)
    orders["paid_at"] = np.where(keep_paid, paid, nat)
    sent = np.isin(status, ["shipped", "delivered"])
    orders["shipped_at"] = np.where(sent, shipped, nat)
    orders["delivered_at"] = np.where(status == "delivered", delivered, nat)
    orders["cancelled_at"] = np.where(cancelled_now, cancelled, nat)
    orders["status"] = status
    orders["carrier"] = np.where(sent, np.array(names, dtype=object)[carrier_idx], None)  # type: ignore[call-overload]
    orders["estimated_delivery"] = np.where(sent, estimated, np.datetime64("NaT", "D"))
    orders["transit_end"] = delivered  # when a parcel still on its way will arrive
    orders["ship_status"] = None
    orders["last_location"] = None
    orders["tracking_number"] = None
    orders["fixed_number"] = -1


def _tracking_numbers(carrier: np.ndarray, number: np.ndarray, rng) -> np.ndarray:
    """Carrier-shaped tracking numbers, unique because they embed the order number."""
    serial = pd.Series(number.astype(np.int64) * 1000 + rng.integers(0, 1000, len(number)))
    shapes = {  # carrier -> (prefix, digits, suffix)
        "Royal Mail": ("RM", 9, "GB"), "DHL": ("JD0146", 9, ""), "UPS": ("1ZX7R4E9", 10, ""),
        "FedEx": ("7", 11, ""), "DPD": ("1550", 10, ""),
    }  # fmt: skip
    out = np.full(len(number), None, dtype=object)
    for name, (prefix, digits, suffix) in shapes.items():
        mask = carrier == name
        out[mask] = (prefix + serial[mask].astype(str).str.zfill(digits) + suffix).to_numpy()
    return out


def finalize(
    orders: pd.DataFrame, items: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort orders by time, give them ids 1..n and order numbers, and renumber items to match.

    Orders with a ``fixed_number`` keep it; the others get increasing 6-digit numbers in time
    order that skip the reserved block.
    """
    order = np.lexsort((orders["fixed_number"].to_numpy(), orders["placed_at"].to_numpy()))
    orders = orders.iloc[order].reset_index(drop=True)
    new_index = np.empty(len(order), dtype=np.int64)
    new_index[order] = np.arange(len(order))
    items = items.assign(order=new_index[items["order"].to_numpy()])
    items = items.sort_values(["order", "product"], kind="stable").reset_index(drop=True)
    orders.insert(0, "id", np.arange(1, len(orders) + 1))
    items.insert(0, "id", np.arange(1, len(items) + 1))

    fixed = orders["fixed_number"].to_numpy()
    free = fixed < 0
    k = int(free.sum())
    span = LAST_NUMBER - FIRST_NUMBER - (RESERVED_NUMBERS[1] - RESERVED_NUMBERS[0] + 1)
    if k > span:
        raise ShopbotError(
            f"{k} orders do not fit in 6-digit order numbers: use fewer --customers or --days"
        )
    max_gap = int(min(3, span // max(k, 1)))
    seq = FIRST_NUMBER - 1 + np.cumsum(rng.integers(1, max_gap + 1, k))
    seq = np.where(
        seq >= RESERVED_NUMBERS[0], seq + (RESERVED_NUMBERS[1] - RESERVED_NUMBERS[0] + 1), seq
    )
    number = fixed.copy()
    number[free] = seq
    orders["order_number"] = number
    tracking = _tracking_numbers(orders["carrier"].to_numpy(), number, rng)
    preset = orders["tracking_number"].to_numpy()
    orders["tracking_number"] = np.where(pd.isna(preset), tracking, preset)
    return orders, items


def _ensure_each(status: np.ndarray, pool: np.ndarray, wanted, rng: np.random.Generator) -> None:
    """Make every value of ``wanted`` occur in ``status`` by relabelling rows of ``pool``.

    ``pool`` holds rows sharing one value; one of them keeps it. Small demo shops otherwise miss
    a rare status by chance, and the chat and the tests want to see each of them.
    """
    missing = [v for v in wanted if not (status == v).any()]
    for value, row in zip(missing, rng.permutation(pool)[1:]):
        status[row] = value


def build_shipments(
    orders: pd.DataFrame, ppl: People, rng: np.random.Generator, as_of: np.datetime64
) -> pd.DataFrame:
    """One shipment per shipped or delivered order, with a tracking status as of ``as_of``."""
    sent = orders.index[orders["status"].isin(["shipped", "delivered"])].to_numpy()
    o = orders.iloc[sent]
    n = len(o)
    shipped_at = o["shipped_at"].to_numpy()
    transit_end = o["transit_end"].to_numpy()
    on_the_way = (o["status"] == "shipped").to_numpy()
    # The shop is looked at during end_date: parcels due that day are out for delivery.
    due_today = transit_end.astype("datetime64[D]") <= as_of.astype("datetime64[D]")
    status = np.select(
        [~on_the_way, as_of - shipped_at < np.timedelta64(5 * 3600, "s"), due_today],
        ["delivered", "label_created", "out_for_delivery"],
        "in_transit",
    ).astype(object)  # fmt: skip
    status = np.where(on_the_way & (rng.random(n) < EXCEPTION_SHARE), "exception", status)
    preset = o["ship_status"].to_numpy()
    fixed = ~pd.isna(preset)
    status = np.where(fixed, preset, status)
    movable = np.flatnonzero(on_the_way & ~fixed & (status == "in_transit"))
    _ensure_each(
        status, movable, ["label_created", "in_transit", "out_for_delivery", "exception"], rng
    )

    carrier = o["carrier"].to_numpy()
    city = ppl.frame["city"].to_numpy()[o["cust"].to_numpy()]
    hubs = pd.DataFrame(vocab.CARRIER_HUBS).T  # carrier x 2
    row = hubs.index.get_indexer(carrier)
    hub = hubs.to_numpy(dtype=object)[row, rng.integers(0, 2, n)]
    location = np.select(
        [status == "delivered", status == "label_created", status == "out_for_delivery",
         status == "exception"],
        [city, vocab.WAREHOUSE, city + " delivery office", hub + " (held: address query)"],
        hub,
    ).astype(object)  # fmt: skip
    preset_loc = o["last_location"].to_numpy()
    location = np.where(pd.isna(preset_loc), location, preset_loc)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "order_id": o["id"].to_numpy(),
            "carrier": carrier,
            "tracking_number": o["tracking_number"].to_numpy(),
            "status": status,
            "shipped_at": shipped_at,
            "estimated_delivery": o["estimated_delivery"].to_numpy(),
            "delivered_at": o["delivered_at"].to_numpy(),
            "last_location": location,
        }
    )
