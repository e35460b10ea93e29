"""Injection: order numbers, e-mails, product names and free
text carrying SQL, HTML/JS and Markdown/Slack mrkdwn are handled as plain text everywhere.

- Database: every query is parameterised (no statement text ever contains the attack), a
  conversation carrying attacks reveals and changes no order, and tickets keep the text verbatim.
- Slack: what the bot posts escapes &, < and > (no mention, link or markup made of user or
  catalogue text), asserted on exactly what the local Slack stand-in received.
- Web page: in Chromium, a hostile product name or bot reply shows as literal text, no script
  runs and no element is injected; links are only made from http(s) URLs.

The hostile product used by the Slack and browser tests is added to the shared demo shop for the
duration of this module and removed afterwards (see ``hostile_product``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, event, select

from analytics.reports.base import StaffReport, Table
from analytics.reports.slack import to_slack
from bot.channels.slack import StaffSlackBot
from shop.access import Requester
from shop.catalog import CatalogMatcher, product_info
from shop.errors import NotFound, ShopbotError
from shop.orders import cancel_order, get_order
from shop.returns import return_status
from shop.store import make_engine, session_scope
from shop.store.models import (
    Customer,
    Inventory,
    Order,
    OrderItem,
    Product,
    SupportTicket,
)
from shop.tickets import open_ticket
from support.abuse_support import (
    SHOP_TABLES,
    post_slack,
    say,
    shop_fingerprint,
    slack_event,
    slack_posts,
    slack_signature,
)
from support.browser_support import chromium
from support.servers import STAFF_SLACK_USER
from support.slack_standin import start_slack_standin

SQL_ATTACKS = [
    "104233' OR '1'='1",
    "'; DROP TABLE orders; --",
    "' OR ''='",
    "1; UPDATE orders SET status='cancelled' WHERE '1'='1",
    "ada@example.com' --",
    "x' UNION SELECT email FROM customers --",
]
HTML_ATTACKS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<a href="javascript:window.__pwned=1">click</a>',
]
MRKDWN_ATTACKS = ["*bold* _it_ ~s~ `code`", "<!channel>", "<!here|here>", "<@U123>",
                  "<http://evil.example|click>", "&amp; & &lt;"]  # fmt: skip
ATTACKS = SQL_ATTACKS + HTML_ATTACKS + MRKDWN_ATTACKS
# Pieces of the attacks that must never appear in the text of an SQL statement.
SQL_FRAGMENTS = ["'1'='1", "DROP TABLE", "UNION SELECT", "''='", "SET status", "<script>", "--"]

HOSTILE_SKU = "ZZX-99901"
HOSTILE_CATEGORY = "zzxhostile"
HOSTILE_NAME = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> *Deal* & '
    "<!channel> <@U123> <http://evil.example|click> '; DROP TABLE products; --"
)
# Slack's escaping of HOSTILE_NAME: &, < and > as entities, nothing else touched.
HOSTILE_NAME_SLACK = (
    '&lt;img src=x onerror="window.__pwned=1"&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt; '
    "*Deal* &amp; &lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click&gt; "
    "'; DROP TABLE products; --"
)


def _no_markup(text: str) -> None:
    """Slack text with no raw <, > or bare & (so no mention, link or entity trick)."""
    assert "<" not in text and ">" not in text, text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


def _texts(value) -> Iterator[str]:
    """Every text a Slack message carries (its fallback and every text object of its blocks)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


# ---- the database ------------------------------------------------------------------------------


def _small_shop(engine) -> dict[str, int]:
    """Ada with a shipped and a paid order, a product with a hostile name; returns order ids."""
    with session_scope(engine) as s:
        ada = Customer(email="ada@example.com", name="Ada Lovelace")
        kettle = Product(sku="HOM-0007", name="Blue Enamel Kettle", category="home",
                         price=Decimal("45.00"))  # fmt: skip
        hostile = Product(sku=HOSTILE_SKU, name=HOSTILE_NAME, category="home",
                          price=Decimal("12.34"))  # fmt: skip
        s.add_all([ada, kettle, hostile])
        s.flush()
        s.add_all(
            [
                Inventory(product_id=kettle.id, on_hand=5),
                Inventory(product_id=hostile.id, on_hand=7),
            ]
        )
        orders = {}
        for number, status in ((104233, "shipped"), (104235, "paid")):
            order = Order(
                order_number=number,
                customer_id=ada.id,
                email=ada.email,
                status=status,
                placed_at=dt.datetime(2026, 11, 1, 10, 0),
                total=Decimal("45.00"),
            )
            order.items.append(
                OrderItem(product_id=kettle.id, quantity=1, unit_price=Decimal("45"))
            )
            s.add(order)
            s.flush()
            orders[number] = order.id
    return orders


def _order_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Order.__table__).order_by(Order.id))]


def test_store_queries_are_parameterised_and_keep_text_verbatim(any_engine):
    _small_shop(any_engine)
    url = any_engine.url.render_as_string(hide_password=False)
    before = shop_fingerprint(url)
    orders_before = _order_rows(any_engine)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(any_engine, "before_cursor_execute", record)
    try:
        for attack in SQL_ATTACKS + HTML_ATTACKS:
            with session_scope(any_engine) as s:
                # An attack as the order number (with someone else's e-mail), as the e-mail,
                # and both: nothing is revealed or cancelled.
                for number, email in ((attack, "eve@example.com"), (104233, attack),
                                      (104235, attack), (attack, attack)):  # fmt: skip
                    for call in (get_order, cancel_order):
                        with pytest.raises(ShopbotError) as err:
                            call(s, number, Requester(email=email))
                        assert "JD" not in str(err.value) and "shipped" not in str(err.value)
                with pytest.raises(ShopbotError):
                    return_status(s, Requester(email=attack), rma_number=attack)
                with pytest.raises(NotFound):
                    product_info(s, attack)
        # Catalogue text is matched as plain text: the hostile name finds its product.
        matcher = CatalogMatcher.build(any_engine)
        assert [m.sku for m in matcher.find(HOSTILE_NAME, limit=1)] == [HOSTILE_SKU]
        assert matcher.find("'; DROP TABLE products; --", limit=1)[0].sku == HOSTILE_SKU
        # Tickets keep every attack verbatim.
        text = "\n".join(ATTACKS)
        with session_scope(any_engine) as s:
            ticket_id = open_ticket(
                s,
                kind="complaint",
                conversation_id="conv'; DROP TABLE support_tickets; --",
                channel="rest",
                subject="Complaint: " + SQL_ATTACKS[1],
                transcript=[("customer", a) for a in ATTACKS],
            )
        with session_scope(any_engine) as s:
            ticket = s.get(SupportTicket, ticket_id)
            assert ticket.conversation_id == "conv'; DROP TABLE support_tickets; --"
            assert ticket.subject == "Complaint: " + SQL_ATTACKS[1]
            assert ticket.transcript == "\n".join(f"customer: {a}" for a in text.split("\n"))
    finally:
        event.remove(any_engine, "before_cursor_execute", record)
    leaked = [(f, sql) for sql in statements for f in SQL_FRAGMENTS if f in sql]
    assert not leaked, leaked[:3]
    assert statements  # the listener saw the queries
    after = shop_fingerprint(url)
    assert {t: after[t] for t in SHOP_TABLES if t != "support_tickets"} == {
        t: before[t] for t in SHOP_TABLES if t != "support_tickets"
    }
    assert after["support_tickets"][0] == before["support_tickets"][0] + 1
    assert _order_rows(any_engine) == orders_before


def _targeted_orders(db_url: str) -> list[tuple]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Order.__table__)
                .where(Order.order_number.in_([104233, 104235]))
                .order_by(Order.order_number)
            ).all()
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.rasa
def test_conversations_carrying_attacks_reveal_and_change_nothing(assistant):
    """Order numbers, e-mails, product names and free text carrying attacks, over REST against
    the real servers: no order detail is given, no row changes, the complaint keeps the text."""
    before = shop_fingerprint(assistant.db_url)
    targeted = _targeted_orders(assistant.db_url)
    assert [row[1] for row in targeted] == [104233, 104235]  # both demo orders are there
    details = re.compile(r"JD0146104233|DHL|in transit|delivered|being prepared|tracking", re.I)
    senders, sent = [], set()

    def chat(*texts: str) -> list[str]:
        sender = "inject-" + uuid.uuid4().hex[:10]
        senders.append(sender)
        sent.update(texts)
        replies = []
        for text in texts:
            replies += [r.get("text") or "" for r in say(assistant, text, sender)]
        return replies

    # A guest asks about Ada's order with SQL as the order number and as the e-mail. (Not
    # with Ada's own address in front of the SQL: whoever knows the order number and the order's
    # e-mail may see the order, and "ada@example.com' OR …" answers the question with it.)
    replies = chat(
        "where is my order 104233' OR '1'='1",
        "' OR '1'='1",
        "grace@example.com' OR '1'='1",
        "'; DROP TABLE orders; --",
    )
    assert not any(details.search(r) for r in replies), replies
    # The same through entities set directly ("/intent{…}", as buttons send them).
    replies = chat(
        '/order_status{"order_number": "\' OR 1=1 --", "email": "\' OR \'\'=\'"}',
        '/order_status{"order_number": "104233 OR 1=1", "email": "x\' UNION SELECT email FROM '
        'customers --"}',
        '/cancel_order{"order_number": "104235; UPDATE orders SET status=\'cancelled\'", '
        '"email": "ada@example.com\' --"}',
        "yes",
        '/request_return{"order_number": "104233\' --", "email": "\' OR 1=1 --"}',
        "yes",
    )
    assert not any(details.search(r) for r in replies), replies
    # Product names with SQL and HTML are looked up as text.
    replies = chat(
        "how much is the '; DROP TABLE products; -- kettle?",
        "do you have <script>window.__pwned=1</script>?",
        '/product_search{"sku": "\' OR \'1\'=\'1", "product": "<img src=x onerror=alert(1)>"}',
    )
    assert replies and all(r.strip() for r in replies)
    # Complaints carrying each attack: every ticket keeps the customer's words verbatim. (If the
    # NLU is unsure and offers choices instead, "/complaint" files it, as the button would.)
    complaints = {}
    for attack in ATTACKS:
        text = f"I want to make a complaint: {attack}"
        replies = chat(text)
        if not any("ticket #" in r for r in replies):
            replies = say(assistant, "/complaint", senders[-1])
            replies = [r.get("text") or "" for r in replies]
        [ticket_no] = re.findall(r"ticket #(\d+)", " ".join(replies))
        complaints[int(ticket_no)] = text
    after = shop_fingerprint(assistant.db_url)
    assert {t: after[t] for t in SHOP_TABLES if t != "support_tickets"} == {
        t: before[t] for t in SHOP_TABLES if t != "support_tickets"
    }
    assert _targeted_orders(assistant.db_url) == targeted
    engine = make_engine(assistant.db_url)
    try:
        with session_scope(engine) as s:
            tickets = (
                s.execute(
                    select(SupportTicket).where(
                        SupportTicket.conversation_id.in_([f"rest:{x}" for x in senders])
                    )
                )
                .scalars()
                .all()
            )
            # Only these conversations added tickets (the NLU may read an attack such as
            # "'; DROP TABLE orders; --" alone as a complaint too), each subject being a message
            # as it was sent; every complaint keeps its attack verbatim.
            assert after["support_tickets"][0] - before["support_tickets"][0] == len(tickets)
            for ticket in tickets:
                assert ticket.kind == "complaint" and ticket.order_id is None
                said = re.sub(r" \(order #\d{6}\)$", "", ticket.subject.removeprefix("Complaint: "))
                assert said in sent | {"/complaint"}, ticket.subject
            by_id = {t.id: t for t in tickets}
            for ticket_id, text in complaints.items():
                assert f"customer: {text}" in by_id[ticket_id].transcript.splitlines(), text
    finally:
        engine.dispose()


# ---- Slack ---------------------------------------------------------------------------------------


def test_slack_blocks_escape_catalogue_and_user_text():
    report = StaffReport(
        title=f"Stock of {HOSTILE_SKU} {HOSTILE_NAME}",
        summary="Asked: <!channel> & <@U123>",
        fields=[("On hand", "7"), ("Name", HOSTILE_NAME)],
        table=Table(["sku", "product"], [[HOSTILE_SKU, "a ```break``` <@U1> & b"]]),
        notes=["<http://evil.example|click> here"],
    )
    message = to_slack(report)
    assert message["blocks"] == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                # Cut to Slack's 150 characters, not inside an entity ("&lt;@U123&gt;").
                "text": f"Stock of {HOSTILE_SKU} "
                '&lt;img src=x onerror="window.__pwned=1"&gt;&lt;script&gt;window.__pwned=2'
                "&lt;/script&gt; *Deal* &amp; &lt;!channel&gt; &lt;@U123…",
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Asked: &lt;!channel&gt; &amp; &lt;@U123&gt;"},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*On hand*\n7"},
                {"type": "mrkdwn", "text": f"*Name*\n{HOSTILE_NAME_SLACK}"},
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "```sku        product\n---------  -----------------------\n"
                f"{HOSTILE_SKU}  a '''break''' &lt;@U1&gt; &amp; b```",
            },
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "&lt;http://evil.example|click&gt; here"}],
        },
    ]
    assert message["text"].startswith(f"Stock of {HOSTILE_SKU} {HOSTILE_NAME_SLACK}\n\n")
    for text in _texts(message):
        _no_markup(text)


def test_slack_text_and_buttons_are_escaped_when_posted():
    """The bot's plain texts (e.g. a product description echoing its name) and buttons, as
    posted to the Web API (a local stand-in): escaped, and texts without mrkdwn formatting."""
    standin = start_slack_standin()
    try:
        bot = StaffSlackBot("xoxb-test", base_url=standin.base_url)

        async def send() -> None:
            await bot.send_text_message("DTEST1", f"{HOSTILE_NAME} costs £12.34.\n\nMore: <!here>")
            await bot.send_text_with_buttons(
                "DTEST1",
                "Which one? <@U123>",
                [{"title": HOSTILE_NAME, "payload": '/product_search{"sku": "ZZX-99901"}'}],
            )

        asyncio.run(send())
        posts = standin.messages("DTEST1")
    finally:
        standin.stop()
    assert [(p["text"], p.get("mrkdwn")) for p in posts[:2]] == [
        (f"{HOSTILE_NAME_SLACK} costs £12.34.", False),
        ("More: &lt;!here&gt;", False),
    ]
    blocks = posts[2]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert posts[2]["text"] == "Which one? &lt;@U123&gt;"
    assert blocks == [
        {"type": "section", "text": {"type": "plain_text", "text": "Which one? &lt;@U123&gt;"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": HOSTILE_NAME_SLACK[:75]},
                    "value": '/product_search{"sku": "ZZX-99901"}',
                }
            ],
        },
    ]


@pytest.fixture(scope="module")
def hostile_product(assistant) -> Iterator[str]:
    """A product whose name is an attack, in the shared demo shop while this module runs.

    Why adding it to the shared shop is safe: tests run one after another, so no other test runs
    while it exists; its SKU and category are used nowhere else; it has no orders, ratings or
    forecasts, so no trained model knows it (the recommender ignores products it was not
    trained on) and no report but its own stock report shows it; it is removed afterwards, even
    when a test fails. The action server's product matcher may keep its name for up to a minute
    after removal (it refreshes at most every 60 s); no other test asks for anything like it.
    """
    engine = make_engine(assistant.db_url)
    with session_scope(engine) as s:
        assert s.execute(select(Product).where(Product.sku == HOSTILE_SKU)).first() is None
        product = Product(
            sku=HOSTILE_SKU,
            name=HOSTILE_NAME,
            category=HOSTILE_CATEGORY,
            brand="<b>Brand</b>",
            price=Decimal("12.34"),
            active=True,
        )
        s.add(product)
        s.flush()
        s.add(Inventory(product_id=product.id, on_hand=7, on_order=0, lead_time_days=14))
        product_id = product.id
    try:
        yield HOSTILE_SKU
    finally:
        with session_scope(engine) as s:
            s.execute(delete(Inventory).where(Inventory.product_id == product_id))
            s.execute(delete(Product).where(Product.id == product_id))
        engine.dispose()


def _ask_on_slack(assistant, text: str) -> dict:
    """The one message the bot posts in reply to a staff member's direct message."""
    payload = slack_event(text, STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    body = json.dumps(payload).encode()
    reply = post_slack(
        assistant, body, {"Content-Type": "application/json", **slack_signature(body)}
    )
    assert reply.status == 200, reply
    assistant.slack.wait_for(lambda calls: slack_posts(assistant, channel), timeout=120)
    return slack_posts(assistant, channel)


@pytest.mark.rasa
def test_slack_replies_escape_a_hostile_product_and_question(assistant, hostile_product):
    # The stock report of the hostile product: its name only ever appears escaped.
    [post] = _ask_on_slack(assistant, f"How many {hostile_product} do we have?")
    header = post["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith(
        f'Stock of {HOSTILE_SKU} &lt;img src=x onerror="window.__pwned=1"&gt;'
    )
    assert post["text"].startswith(f"Stock of {HOSTILE_SKU} {HOSTILE_NAME_SLACK}\n\n")
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in post["blocks"][1]["fields"]
    }
    assert fields["*On hand*"] == "7"
    for text in _texts(post):
        _no_markup(text)
    # Its description, a plain text reply: escaped and without mrkdwn.
    posts = _ask_on_slack(assistant, f'/product_search{{"sku": "{hostile_product}"}}')
    assert posts and all(p.get("mrkdwn") is False for p in posts)
    assert HOSTILE_NAME_SLACK in posts[0]["text"]
    for p in posts:
        _no_markup(p["text"])
    # An SKU question wrapped in mentions, a link and SQL: answered about that SKU, and the
    # code echoed back when it is unknown is escaped too.
    [post] = _ask_on_slack(
        assistant,
        "How many CLO-0042 <!channel> <@U123> <http://evil.example|click> do we have? "
        "'; DROP TABLE products; --",
    )
    assert post["blocks"][0]["text"]["text"].startswith("Stock of CLO-0042")
    for text in _texts(post):
        _no_markup(text)
    posts = _ask_on_slack(assistant, '/product_search{"sku": "<@U123> & <!here>"}')
    assert posts[0]["text"].startswith(
        "I couldn't find a product with the code &lt;@U123&gt; &amp; &lt;!HERE&gt;."
    )
    for p in posts:
        _no_markup(p["text"])


# ---- the web page ------------------------------------------------------------------------------

REPLY_TIMEOUT_MS = 90_000
# Records, before any page script runs, what an injected script or handler would leave behind:
# a flag it sets, and the Content-Security-Policy violations of blocked inline code (the page's
# CSP is a second line of defence; the first is that text never becomes markup).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
INJECTED = "#products img, #products script, #chat-log img, #chat-log script, [onerror], [onclick]"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, assistant, hostile_product) -> Iterator[Page]:
    """The storefront in a fresh browser profile, watched for injected code."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    context.add_init_script(WATCH)
    pg = context.new_page()
    pg.set_default_timeout(REPLY_TIMEOUT_MS)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    pg.goto(f"{assistant.rasa_url}/storefront/")
    expect(pg.locator("#products .product").first).to_be_visible()
    yield pg
    context.close()


def _nothing_ran(page: Page) -> None:
    """No injected element, no script run, no inline code even attempted, no dialog."""
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("window.__csp") == []
    assert page.dialogs == []  # type: ignore[attr-defined]


def _open_chat(page: Page) -> None:
    page.click("#chat-launcher")
    expect(page.locator("#chat")).to_have_attribute("data-connection", "online")


def _say(page: Page, text: str) -> list[str]:
    """Types ``text`` into the chat; the text content of the bot's answer bubbles."""
    before = page.locator(".msg-bot").count()
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function("n => document.querySelectorAll('.msg-bot').length > n", arg=before)
    expect(page.locator("#chat-typing")).to_be_hidden()
    return page.evaluate(
        "n => [...document.querySelectorAll('.msg-bot .bubble')].slice(n).map(b => b.textContent)",
        before,
    )


@pytest.mark.rasa
@pytest.mark.browser
def test_hostile_product_and_replies_show_as_text_in_the_browser(page):
    # The shop front's card of the hostile product: its name is text, nothing else.
    card = page.locator(f'.product[data-sku="{HOSTILE_SKU}"]')
    expect(card.locator(".product-name")).to_have_count(1)
    assert card.locator(".product-name").evaluate("e => e.textContent") == HOSTILE_NAME
    assert card.locator(".product-name").evaluate("e => e.childElementCount") == 0
    assert card.locator("button.add-to-cart").get_attribute("aria-label") == (
        f"Add {HOSTILE_NAME} to cart"
    )
    _nothing_ran(page)
    # The assistant describes it: the reply carries the name as literal text.
    _open_chat(page)
    replies = _say(page, f'/product_search{{"sku": "{HOSTILE_SKU}"}}')
    assert any(HOSTILE_NAME in r for r in replies), replies
    # And a code it does not know is echoed back, as text.
    replies = _say(page, '/product_search{"sku": "<img src=x onerror=alert(1)>"}')
    assert any("<IMG SRC=X ONERROR=ALERT(1)>" in r for r in replies), replies
    # What the customer typed shows as typed.
    attack = HTML_ATTACKS[1]
    _say(page, attack)
    assert page.locator(".msg-user .bubble").last.evaluate("e => e.textContent") == attack
    _nothing_ran(page)


@pytest.mark.rasa
@pytest.mark.browser
def test_cards_and_links_from_the_assistant_are_inert(page):
    """Bot messages as the widget stores and draws them: hostile product cards, an image with a
    javascript: source, and text with links of every scheme. Only http(s) URLs become links."""
    history = [
        {
            "role": "bot",
            "text": (
                "See javascript:window.__pwned=1 and JaVaScRiPt:window.__pwned=2, "
                "data:text/html,<script>window.__pwned=3</script>, vbscript:msgbox(1), "
                "https://ok.example/a?q=<script>x</script>, "
                'http://x.example/" onmouseover="window.__pwned=4 and www.example.org/ok.'
            ),
        },
        {"role": "bot", "image": "javascript:window.__pwned=5"},
        {
            "role": "bot",
            "text": "Picks:",
            "cards": [
                {
                    "sku": '"><img src=x onerror="window.__pwned=6">',
                    "name": HOSTILE_NAME,
                    "category": "<script>window.__pwned=7</script>",
                    "price": "<b>1</b>",
                },
            ],
            "buttons": [{"title": "<img src=x onerror=window.__pwned=8>", "payload": "/deny"}],
        },
    ]
    page.evaluate("h => localStorage.setItem('shopbot.chat.history', JSON.stringify(h))", history)
    page.reload()
    _open_chat(page)
    hrefs = page.locator("#chat-log a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://ok.example/a?q=", "http://x.example/", "https://www.example.org/ok"]
    card = page.locator("#chat-log .card")
    assert card.locator(".card-name").evaluate("e => e.textContent") == HOSTILE_NAME
    assert card.locator(".card-category").evaluate("e => e.textContent") == (
        "<script>window.__pwned=7</script>"
    )
    assert card.evaluate("e => e.dataset.sku") == '"><img src=x onerror="window.__pwned=6">'
    assert page.locator(".quick-reply").evaluate("e => e.textContent") == (
        "<img src=x onerror=window.__pwned=8>"
    )
    _nothing_ran(page)
