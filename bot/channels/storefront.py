"""The storefront demo page, served by the Rasa server itself (same origin as its socket.io).

Register in ``credentials.yml`` as ``bot.channels.storefront.StorefrontInput: {}``. Routes:

- ``GET /storefront/``: the shop front with the chat widget (``bot/storefront/index.html``);
- ``GET /storefront/static/<file>``: its scripts, styles and images (``bot/storefront/static/``);
- ``GET /storefront/api/customers``: the demo customers one may sign in as (id and name);
- ``POST /storefront/api/login`` ``{"customer_id": 7}``: ``{"token", "name", "expires_at"}``, a
  session token signed with ``SHOPBOT_SESSION_SECRET`` (what a real shop's site would do);
- ``GET /storefront/api/products``: a few products for the shop front.

The demo sign-in lets anyone act as a listed customer, so it is off unless
``SHOPBOT_DEMO_LOGIN=true`` (``make run`` turns it on for the demo shop): off, the customer list is
empty and login answers 403. Even on, it lists and signs in only the demo shop's own customers
(:func:`shop.demo.demo_customers`), never an imported one. The page never receives customer data
beyond names; order details are only ever given by the actions after they verify the token.

This channel receives no chat messages: the page talks to Rasa's ``socketio`` channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import identity
from shop import settings

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).resolve().parent.parent / "storefront"
STATIC_DIR = PAGE_DIR / "static"
MAX_CUSTOMERS = 6
PRODUCTS_PER_CATEGORY = 2
MAX_BODY_BYTES = 4096

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".map": "application/json",
}
# The page loads nothing from elsewhere; scripts and styles are files of this origin only, so an
# injected <script> or inline handler could not run even if it reached the DOM.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: https:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def demo_login_enabled() -> bool:
    """True only when ``SHOPBOT_DEMO_LOGIN`` says true."""
    try:
        return settings.DEMO_LOGIN.flag()
    except settings.SettingError:
        log.warning("%s is not true or false: the demo sign-in stays off", settings.DEMO_LOGIN.name)
        return False


def _token_ttl() -> int:
    """Seconds a demo sign-in's token lasts (``SHOPBOT_SESSION_TTL``; 8 hours when unusable)."""
    try:
        return settings.SESSION_TTL.number(1)
    except settings.SettingError:
        return int(settings.SESSION_TTL.default or 28800)


def list_demo_customers(engine: Any = None) -> list[dict[str, Any]]:
    """The customers one may sign in as: the demo shop's fixed accounts, then a few more."""
    from shop.demo import demo_customers
    from shop.store import session_scope

    with session_scope(engine) as session:
        return [{"id": i, "name": name} for i, name in demo_customers(session, MAX_CUSTOMERS)]


def list_products(engine: Any = None) -> list[dict[str, Any]]:
    """A few active products per category for the shop front, with an in-stock flag."""
    from sqlalchemy import select

    from shop.store import session_scope
    from shop.store.models import Inventory, Product

    products: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        categories = session.execute(
            select(Product.category).where(Product.active.is_(True)).distinct()
        ).scalars()
        order = {"clothing": 0, "electronics": 1, "home": 2, "beauty": 3, "food": 4}
        for category in sorted(categories, key=lambda c: (order.get(c, 99), c)):
            rows = session.execute(
                select(
                    Product.sku, Product.name, Product.price, Product.category, Inventory.on_hand
                )
                .outerjoin(Inventory, Inventory.product_id == Product.id)
                .where(Product.active.is_(True), Product.category == category)
                .order_by(Product.id)
                .limit(PRODUCTS_PER_CATEGORY)
            ).all()
            for row in rows:
                products.append(
                    {
                        "sku": row.sku,
                        "name": row.name,
                        "price": round(float(row.price), 2),
                        "category": row.category,
                        # No inventory row: nothing is known to be on hand.
                        "in_stock": bool(row.on_hand and row.on_hand > 0),
                    }
                )
    return products


def login_demo_customer(customer_id: int, engine: Any = None) -> dict[str, Any] | None:
    """``{"token", "name", "expires_at"}`` for a listed demo customer, or None if not listed."""
    listed = {c["id"]: c["name"] for c in list_demo_customers(engine)}
    if customer_id not in listed:
        return None
    ttl = _token_ttl()
    now = datetime.now(timezone.utc).timestamp()
    token = identity.issue_token(customer_id, ttl_seconds=ttl, now=now)
    expires = datetime.fromtimestamp(int(now) + ttl, tz=timezone.utc)
    return {
        "token": token,
        "name": listed[customer_id],
        "customer_id": customer_id,
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers={"Cache-Control": "no-store"})


def _parse_customer_id(request: Request) -> int | None:
    """The positive integer ``customer_id`` of a JSON body, or None when malformed."""
    if len(request.body or b"") > MAX_BODY_BYTES:
        return None
    try:
        body = request.json
    except Exception:  # Sanic raises on invalid JSON
        return None
    if not isinstance(body, dict):
        return None
    value = body.get("customer_id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _static_path(name: str) -> Path | None:
    """The file under ``STATIC_DIR`` that ``name`` names, or None (missing, hidden, outside)."""
    if not name or "\\" in name or "\x00" in name:
        return None
    parts = name.split("/")
    if any(part in {"", ".", ".."} or part.startswith(".") for part in parts):
        return None
    path = (STATIC_DIR / name).resolve()
    try:
        path.relative_to(STATIC_DIR.resolve())
    except ValueError:
        return None
    if not path.is_file() or path.suffix not in CONTENT_TYPES:
        return None
    return path


class StorefrontInput(InputChannel):
    """Serves the storefront page and its small JSON API; chat goes through ``socketio``."""

    @classmethod
    def name(cls) -> str:
        return "storefront"

    def url_prefix(self) -> str:
        # Absolute, so that the page lives at /storefront/ rather than under /webhooks/.
        return "/storefront"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The Sanic blueprint with the page, its static files and its API."""
        bp = Blueprint("storefront", __name__)

        @bp.route("/", methods=["GET"])
        async def page(_: Request) -> HTTPResponse:
            html = await asyncio.to_thread((PAGE_DIR / "index.html").read_bytes)
            return response.raw(
                html,
                content_type="text/html; charset=utf-8",
                headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
            )

        @bp.route("/static/<name:path>", methods=["GET"])
        async def static(_: Request, name: str) -> HTTPResponse:
            path = _static_path(name)
            if path is None:
                if name.startswith("vendor/"):
                    log.error("%s is missing: run scripts/build-storefront.sh", name)
                return _error(404, "No such file.")
            body = await asyncio.to_thread(path.read_bytes)
            return response.raw(
                body,
                content_type=CONTENT_TYPES[path.suffix],
                headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
            )

        @bp.route("/api/customers", methods=["GET"])
        async def customers(_: Request) -> HTTPResponse:
            if not demo_login_enabled():
                return response.json({"enabled": False, "customers": []})
            try:
                found = await asyncio.to_thread(list_demo_customers)
            except Exception:
                log.exception("Listing demo customers failed")
                return _error(503, "The shop's database is not available; try again shortly.")
            return response.json({"enabled": True, "customers": found})

        @bp.route("/api/login", methods=["POST"])
        async def login(request: Request) -> HTTPResponse:
            if not demo_login_enabled():
                return _error(403, "Demo sign-in is switched off on this server.")
            customer_id = _parse_customer_id(request)
            if customer_id is None:
                return _error(400, 'Send JSON like {"customer_id": 7} with a positive integer.')
            try:
                session = await asyncio.to_thread(login_demo_customer, customer_id)
            except RuntimeError as exc:  # no SHOPBOT_SESSION_SECRET
                log.error("Demo sign-in impossible: %s", exc)
                return _error(503, "Sign-in is not configured on this server (no session secret).")
            except Exception:
                log.exception("Demo sign-in failed")
                return _error(503, "The shop's database is not available; try again shortly.")
            if session is None:
                return _error(404, f"There is no demo customer with id {customer_id}.")
            return response.json(session, headers={"Cache-Control": "no-store"})

        @bp.route("/api/products", methods=["GET"])
        async def products(_: Request) -> HTTPResponse:
            try:
                found = await asyncio.to_thread(list_products)
            except Exception:
                log.exception("Listing products failed")
                return _error(503, "The shop's database is not available; try again shortly.")
            return response.json({"products": found})

        return bp
