"""The storefront channel's JSON API, without a browser: a real Sanic server with only the
storefront blueprint, in a subprocess, on a small SQLite shop built here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.identity import verify_token
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import Customer, Inventory, Product

ROOT = Path(__file__).resolve().parents[2]
SECRET = "storefront-api-test-secret-of-enough-length"

# Serves only the storefront blueprint, as `rasa run` would mount it.
SERVER = """
import sys
from sanic import Sanic
from bot.channels.storefront import StorefrontInput

channel = StorefrontInput.from_credentials({})
app = Sanic("storefront_api_test")

async def on_message(message):
    return None

app.blueprint(channel.blueprint(on_message), url_prefix=channel.url_prefix())
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, debug=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen


def _start(
    db_url: str, log_path: Path, base_env: dict[str, str] | None = None, **env_extra: str
) -> Server:
    port = _free_port()
    env = dict(
        base_env or os.environ, DATABASE_URL=db_url, SHOPBOT_SESSION_SECRET=SECRET, **env_extra
    )
    env["PYTHONPATH"] = str(ROOT)
    log = open(log_path, "wb")  # the child writes to it while it runs
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"storefront test server exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/storefront/api/products", timeout=2):
                return Server(url, proc)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"storefront test server did not start: {log_path.read_text()[-3000:]}")


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    """A small shop: the two fixed demo accounts, a few more demo customers, customers imported
    from a file (an external id, no demo group), products per category."""
    folder = tmp_path_factory.mktemp("storefront-api")
    db_url = f"sqlite:///{folder / 'shop.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(engine) as s:
        # Ids out of e-mail order, to see that the fixed accounts come first anyway.
        s.add_all(
            [
                Customer(
                    id=3, name="Grace Hopper", email="grace@example.com", demo_group="account"
                ),
                Customer(id=5, name="Ada Lovelace", email="ada@example.com", demo_group="account"),
                Customer(id=1, name="Alan Turing", email="alan@example.com", demo_group="A"),
                Customer(id=2, name="Barbara Liskov", email="barbara@example.com", demo_group="B"),
                Customer(id=4, name=None, email="anon@example.com", demo_group="noise"),
            ]
            + [
                Customer(id=i, name=f"Customer {i}", email=f"c{i}@example.com", demo_group="C")
                for i in range(6, 10)
            ]
            + [  # imported: a real shop's customers, never to be signed in by the demo page
                Customer(id=i, name=f"Imported {i}", external_id=f"178{i:02d}")
                for i in range(10, 20)
            ]
        )
        for i, category in enumerate(("food", "clothing", "electronics", "home", "beauty")):
            for j in range(3):
                pid = 10 * i + j + 1
                s.add(
                    Product(
                        id=pid,
                        sku=f"{category[:3].upper()}-{100 + j:04d}",
                        name=f"{category.title()} item {j}",
                        category=category,
                        price=9.5 + j,
                        active=True,
                    )
                )
                s.flush()
                # The first product of each category is out of stock, the second has no row.
                if j != 1:
                    s.add(Inventory(product_id=pid, on_hand=0 if j == 0 else 12))
        s.add(
            Product(id=99, sku="OLD-0001", name="Retired", category="home", price=1, active=False)
        )
    engine.dispose()
    return {"db_url": db_url, "folder": folder}


@pytest.fixture(scope="module")
def servers(shop) -> Iterator[dict[str, Server]]:
    on = _start(shop["db_url"], shop["folder"] / "on.log", SHOPBOT_DEMO_LOGIN="true")
    try:
        # Nothing said about the demo sign-in: it must be off.
        env = {k: v for k, v in os.environ.items() if k != "SHOPBOT_DEMO_LOGIN"}
        off = _start(shop["db_url"], shop["folder"] / "off.log", base_env=env)
    except BaseException:
        _stop(on)
        raise
    yield {"on": on, "off": off}
    _stop(on)
    _stop(off)


def _request(url: str, body: bytes | None = None, method: str | None = None):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _json(url: str, body: dict | bytes | None = None):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    status, headers, data = _request(url, raw, "POST" if raw is not None else "GET")
    assert headers["Content-Type"].startswith("application/json"), (status, data[:200])
    return status, json.loads(data)


def test_customers_lists_fixed_demo_accounts_first(servers):
    status, body = _json(f"{servers['on'].url}/storefront/api/customers")
    assert status == 200
    assert body["enabled"] is True
    customers = body["customers"]
    assert customers[:2] == [{"id": 3, "name": "Grace Hopper"}, {"id": 5, "name": "Ada Lovelace"}]
    # Then other customers of the demo shop, by id, six in all; no e-mails are given out.
    assert [c["id"] for c in customers] == [3, 5, 1, 2, 4, 6]
    assert all(set(c) == {"id", "name"} for c in customers)


def test_login_returns_a_token_the_action_server_accepts(servers):
    status, body = _json(f"{servers['on'].url}/storefront/api/login", {"customer_id": 5})
    assert status == 200
    assert body["name"] == "Ada Lovelace"
    assert verify_token(body["token"], secret=SECRET) == 5
    assert verify_token(body["token"], secret="another-secret-also-32-bytes-long-enough") is None
    expires = time.mktime(time.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert time.time() + 3600 < expires <= time.time() + 8 * 3600 + 5


def test_login_accepts_a_numeric_string_id(servers):
    status, body = _json(f"{servers['on'].url}/storefront/api/login", {"customer_id": "3"})
    assert status == 200
    assert verify_token(body["token"], secret=SECRET) == 3


@pytest.mark.parametrize("customer_id", [12345, 9])
def test_login_unknown_or_unlisted_customer_is_404(servers, customer_id):
    # 9 is a demo customer beyond the listed few.
    status, body = _json(f"{servers['on'].url}/storefront/api/login", {"customer_id": customer_id})
    assert status == 404
    assert str(customer_id) in body["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[5]",
        b"{}",
        b'{"customer_id": -1}',
        b'{"customer_id": 0}',
        b'{"customer_id": true}',
        b'{"customer_id": 5.5}',
        b'{"customer_id": "5; drop table customers"}',
        b'{"customer_id": "' + b"9" * 5000 + b'"}',
    ],
)
def test_login_malformed_body_is_400(servers, raw):
    status, body = _json(f"{servers['on'].url}/storefront/api/login", raw)
    assert status == 400
    assert "customer_id" in body["error"]


@pytest.mark.parametrize("customer_id", [10, 15, 19])
def test_an_imported_customer_is_never_signed_in(servers, customer_id):
    """Even with the demo sign-in on, it hands out tokens for the demo shop's own accounts only:
    never for a customer imported from a real shop's file."""
    _, body = _json(f"{servers['on'].url}/storefront/api/customers")
    assert customer_id not in [c["id"] for c in body["customers"]]
    status, body = _json(f"{servers['on'].url}/storefront/api/login", {"customer_id": customer_id})
    assert status == 404 and "token" not in body


def test_demo_login_is_off_unless_switched_on(servers):
    status, body = _json(f"{servers['off'].url}/storefront/api/login", {"customer_id": 5})
    assert status == 403
    assert "switched off" in body["error"]
    status, body = _json(f"{servers['off'].url}/storefront/api/customers")
    assert status == 200
    assert body == {"enabled": False, "customers": []}


def test_products_two_active_per_category_with_stock_flag(servers):
    status, body = _json(f"{servers['on'].url}/storefront/api/products")
    assert status == 200
    products = body["products"]
    assert [p["category"] for p in products] == [
        c for c in ("clothing", "electronics", "home", "beauty", "food") for _ in range(2)
    ]
    first = products[0]
    assert first == {
        "sku": "CLO-0100",
        "name": "Clothing item 0",
        "price": 9.5,
        "category": "clothing",
        "in_stock": False,
    }
    # No inventory row: not in stock either.
    assert products[1]["sku"] == "CLO-0101" and products[1]["in_stock"] is False
    assert all(p["sku"] != "OLD-0001" for p in products)


def test_page_and_static_files(servers):
    url = servers["on"].url
    status, headers, html = _request(f"{url}/storefront/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert b'id="chat-launcher"' in html and b"/storefront/static/chat.js" in html
    status, headers, js = _request(f"{url}/storefront/static/chat.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"session_request" in js
    status, _, vendor = _request(f"{url}/storefront/static/vendor/socket.io.min.js")
    assert status == 200, "run scripts/build-storefront.sh"
    assert b"Socket.IO v4.7.5" in vendor[:200]
    for bad in ("../channels/storefront.py", "%2e%2e/index.html", "vendor/.lock-sha256", "nope.js"):
        status, _, _ = _request(f"{url}/storefront/static/{bad}")
        assert status == 404, bad
