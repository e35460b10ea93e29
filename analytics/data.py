"""Reads the store into pandas frames for the analytics (one place for these queries)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from shop.store.models import Customer, Inventory, Order, OrderItem, Product, Rating


def _frame(engine: Engine, stmt) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def load_purchases(engine: Engine, since: dt.datetime | None = None) -> pd.DataFrame:
    """Order lines of non-cancelled orders: order_id, customer_id, product_id, sku, category,
    quantity, unit_price, amount (= quantity × unit_price), placed_at; sorted by time."""
    stmt = (
        select(
            Order.id.label("order_id"),
            Order.customer_id,
            OrderItem.product_id,
            Product.sku,
            Product.category,
            OrderItem.quantity,
            OrderItem.unit_price,
            Order.placed_at,
        )
        .join(OrderItem, OrderItem.order_id == Order.id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(Order.status != "cancelled")
        .order_by(Order.placed_at, Order.id)
    )
    if since is not None:
        stmt = stmt.where(Order.placed_at >= since)
    df = _frame(engine, stmt)
    df["quantity"] = df["quantity"].astype("int64")
    df["unit_price"] = df["unit_price"].astype("float64")
    df["amount"] = df["quantity"] * df["unit_price"]
    df["placed_at"] = pd.to_datetime(df["placed_at"])
    return df


def load_products(engine: Engine) -> pd.DataFrame:
    """Products with their stock: product_id, sku, name, category, brand, description, price,
    active, on_hand, on_order, lead_time_days (0/0/7 where no inventory row exists)."""
    stmt = (
        select(
            Product.id.label("product_id"),
            Product.sku,
            Product.name,
            Product.category,
            Product.brand,
            Product.description,
            Product.price,
            Product.active,
            func.coalesce(Inventory.on_hand, 0).label("on_hand"),
            func.coalesce(Inventory.on_order, 0).label("on_order"),
            func.coalesce(Inventory.lead_time_days, 7).label("lead_time_days"),
        )
        .outerjoin(Inventory, Inventory.product_id == Product.id)
        .order_by(Product.id)
    )
    df = _frame(engine, stmt)
    df["price"] = df["price"].astype("float64")
    df["active"] = df["active"].astype(bool)
    return df


# What to tell people when ``stock_figures_known`` is False.
NO_STOCK_FIGURES = (
    "no product has any stock on hand or on order, so the stock levels are not known (usual "
    "right after `shopbot import transactions`, which cannot know them) — import them with "
    "`shopbot import inventory FILE` (a CSV or XLSX with columns sku,on_hand[,on_order,"
    "lead_time_days])"
)


def stock_figures_known(products: pd.DataFrame) -> bool:
    """True when some active product of ``load_products``' frame has stock on hand or on order.

    Products created by an import start with nothing on hand because the sales file says nothing
    about stock. A catalogue where no product has anything on hand or on order is far more likely
    to be such a shop than one that has sold out of everything, so its zeros mean "unknown".
    """
    if products.empty:
        return False
    active = products["active"].astype(bool) if "active" in products else True
    stocked = products["on_hand"].fillna(0) > 0
    if "on_order" in products:
        stocked |= products["on_order"].fillna(0) > 0
    return bool((stocked & active).any())


def load_ratings(engine: Engine) -> pd.DataFrame:
    """Explicit ratings: customer_id, product_id, rating, rated_at."""
    stmt = select(Rating.customer_id, Rating.product_id, Rating.rating, Rating.rated_at)
    df = _frame(engine, stmt)
    df["rated_at"] = pd.to_datetime(df["rated_at"])
    return df


def load_customers(engine: Engine) -> pd.DataFrame:
    """Customers: customer_id, email, name, created_at, demo_group."""
    stmt = select(
        Customer.id.label("customer_id"),
        Customer.email,
        Customer.name,
        Customer.created_at,
        Customer.demo_group,
    ).order_by(Customer.id)
    df = _frame(engine, stmt)
    df["created_at"] = pd.to_datetime(df["created_at"])
    return df


def data_end(engine: Engine) -> dt.datetime | None:
    """Time of the newest order: the 'now' of the data (analytics run as of this moment)."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(Order.placed_at))).scalar()
