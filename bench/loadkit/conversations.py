"""The customer conversations the load benchmark sends: a realistic mix of order status (guest and
signed-in), returns through to an RMA, recommendations, FAQ questions and small talk, each turn
with a check that the reply is the right one.

A script is fixed before it is sent (what the customer will type is decided from the database,
e.g. whether the order has one returnable item or several), so the same script can be sent to the
bot with its actions stubbed out: same messages, same Rasa work, trivial actions. In stub mode only
the generic checks apply (a reply came, no apology).

Orders for returns are delivered orders inside the return window with no return yet; each return
conversation takes one order from a queue and gives it back afterwards, so two conversations never
return from the same order at once; an order whose lines are all returned leaves the queue, and when
the queue is empty the conversation asks anyway and must get the polite "already has a return".
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import create_engine, func, select

APOLOGIES = ("Sorry, something went wrong", "Sorry, I didn't quite understand")

# (customer says, the reply must contain) — phrasings a shop's customers use.
FAQ = [
    ("how long does delivery take?", "working days"),
    ("how much is shipping?", "£4.95"),
    ("what payment methods do you accept?", "PayPal"),
    ("what is your return policy?", "30 days"),
    ("how long does a refund take?", "refund"),
    ("how can I contact you?", "support@shopbot.example"),
    ("where is your size guide?", "size"),
]
GREETINGS = ["hi", "hello", "hey there", "hi there"]
THANKS = ["thanks", "thank you", "thanks a lot"]
REASONS = [
    "it's too small",
    "it arrived damaged",
    "not as described",
]  # not "changed my mind": deny

Check = Callable[[list[dict]], "str | None"]


def texts(replies: list[dict]) -> str:
    return "\n".join(str(r.get("text") or "") for r in replies)


def buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons") or []]


def generic_problem(replies: list[dict]) -> str | None:
    """Why a reply is an error whatever was asked: nothing came back, or an apology/fallback."""
    if not replies:
        return "empty reply"
    said = texts(replies)
    for apology in APOLOGIES:
        if apology in said:
            return f"apology: {apology}…"
    return None


def contains(*needles: str, absent: tuple[str, ...] = ()) -> Check:
    """A check: every needle is in the replies' text and no ``absent`` text is."""

    def check(replies: list[dict]) -> str | None:
        said = texts(replies)
        for needle in needles:
            if needle not in said:
                return f"expected {needle!r}"
        for bad in absent:
            if bad in said:
                return f"unexpected {bad!r}"
        return None

    return check


def has_button(payload: str, *needles: str) -> Check:
    def check(replies: list[dict]) -> str | None:
        if not any(b.get("payload") == payload for b in buttons(replies)):
            return f"expected a {payload} button"
        return contains(*needles)(replies)

    return check


def product_cards(replies: list[dict]) -> str | None:
    cards = [r["custom"] for r in replies if (r.get("custom") or {}).get("type") == "product_cards"]
    if not cards or not cards[0].get("products"):
        return "expected product cards"
    if cards[0]["products"][0]["name"] not in texts(replies):
        return "expected the products as text too"
    return None


@dataclass
class Turn:
    kind: str  # what the turn is, for the per-kind table ("status_signed", "faq", …)
    text: str
    check: Check
    actions: bool  # whether shopbot's action server works in this turn


@dataclass
class Script:
    kind: str
    turns: list[Turn]
    metadata: dict | None = None
    # Called after the conversation with "ok", "error" or "abandoned" (gives the order back).
    done: Callable[[str], None] = lambda outcome: None


@dataclass
class ReturnOrder:
    order_number: int
    email: str | None
    customer_id: int
    skus: list[str]  # lines in the order the bot lists them (by item id)
    returned: set[str] = field(default_factory=set)

    @property
    def remaining(self) -> list[str]:
        return [s for s in self.skus if s not in self.returned]


class ShopData:
    """Orders and customers of the benchmark's shop, read once (the bot reads the same DB)."""

    def __init__(self, db_url: str, seed: int = 7, window_days: int = 25):
        engine = create_engine(db_url)
        from shop.store.models import Order, OrderItem, Product, Return

        rng = random.Random(seed)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Order.order_number, Order.email, Order.customer_id).where(
                        Order.email.is_not(None)
                    )
                ).all()
                self.status_orders = rng.sample(list(rows), min(2000, len(rows)))
                since = dt.datetime.utcnow() - dt.timedelta(days=window_days)
                returned = select(Return.order_id)
                candidates = conn.execute(
                    select(Order.id, Order.order_number, Order.email, Order.customer_id)
                    .where(Order.status == "delivered", Order.delivered_at >= since)
                    .where(Order.id.not_in(returned))
                    .order_by(Order.order_number)
                ).all()
                lines: dict[int, list[str]] = collections.defaultdict(list)
                for order_id, sku in conn.execute(
                    select(OrderItem.order_id, Product.sku)
                    .join(Product, Product.id == OrderItem.product_id)
                    .where(OrderItem.order_id.in_([c.id for c in candidates]))
                    .order_by(OrderItem.id)
                ):
                    lines[order_id].append(sku)
                self.customers = [
                    c for (c,) in conn.execute(select(Order.customer_id).distinct()).all()
                ]
                self.products = conn.execute(select(func.count(Product.id))).scalar_one()
        finally:
            engine.dispose()
        orders = [
            ReturnOrder(c.order_number, c.email, c.customer_id, lines[c.id])
            for c in candidates
            if lines[c.id] and len(set(lines[c.id])) == len(lines[c.id])  # one line per SKU
        ]
        rng.shuffle(orders)
        self.return_queue: collections.deque[ReturnOrder] = collections.deque(orders)
        self.return_orders = len(orders)
        self.return_lines = sum(len(o.skus) for o in orders)
        self.used_up: list[ReturnOrder] = []
        self._lock = threading.Lock()

    def take_return_order(self) -> ReturnOrder | None:
        with self._lock:
            return self.return_queue.popleft() if self.return_queue else None

    def give_back(self, order: ReturnOrder, sku: str, outcome: str, stub: bool) -> None:
        """Puts the order back in the queue unless all its lines are returned, or the
        conversation failed (then we cannot know what happened to it: it is dropped)."""
        with self._lock:
            if outcome == "error":
                return
            if outcome == "ok" and not stub:
                order.returned.add(sku)
            if order.remaining:
                self.return_queue.append(order)
            else:
                self.used_up.append(order)


class Mix:
    """Draws the next conversation of the mix (weights are shares of conversations)."""

    WEIGHTS = {
        "status_guest": 20,
        "status_signed": 15,
        "return_signed": 10,
        "return_guest": 5,
        "recommend_signed": 15,
        "recommend_guest": 5,
        "faq": 25,
        "smalltalk": 5,
    }

    def __init__(self, data: ShopData, token_for: Callable[[int], str], stub: bool, seed: int):
        self.data, self.token_for, self.stub = data, token_for, stub
        self.rng = random.Random(seed)
        self.kinds = list(self.WEIGHTS)
        self.weights = [self.WEIGHTS[k] for k in self.kinds]
        self._tokens: dict[int, str] = {}

    def _token(self, customer_id: int) -> dict:
        if customer_id not in self._tokens:
            self._tokens[customer_id] = self.token_for(customer_id)
        return {"session_token": self._tokens[customer_id]}

    def next(self) -> Script:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return getattr(self, kind)()

    # -- the conversations --------------------------------------------------------------------

    def greet(self) -> Turn:
        return Turn("greet", self.rng.choice(GREETINGS), contains("assistant"), False)

    def thank(self) -> Turn:
        return Turn("thank", self.rng.choice(THANKS), contains("welcome"), False)

    def status_guest(self) -> Script:
        number, email, _ = self.rng.choice(self.data.status_orders)
        return Script(
            "status_guest",
            [
                self.greet(),
                Turn("status_ask", f"where is my order #{number}", contains("e-mail"), True),
                Turn(
                    "status_guest",
                    email,
                    contains(f"Order #{number}", absent=("couldn't find",)),
                    True,
                ),
                self.thank(),
            ],
        )

    def status_signed(self) -> Script:
        number, _, customer = self.rng.choice(self.data.status_orders)
        return Script(
            "status_signed",
            [
                Turn(
                    "status_signed",
                    f"where is my order #{number}?",
                    contains(f"Order #{number}", absent=("e-mail", "couldn't find")),
                    True,
                ),
                self.thank(),
            ],
            metadata=self._token(customer),
        )

    def _return(self, guest: bool) -> Script:
        order = self.data.take_return_order()
        kind = "return_guest" if guest else "return_signed"
        if order is None:
            # Every pooled line has its RMA: the customer asks anyway and gets a polite answer.
            used = self.rng.choice(self.data.used_up) if self.data.used_up else None
            if used is None:
                return self.faq()
            return Script(
                kind,
                [
                    Turn(
                        "return_start",
                        f"I want to return an item from order #{used.order_number}",
                        contains("already has a return"),
                        True,
                    )
                ],
                metadata=self._token(used.customer_id),
            )
        remaining = order.remaining
        sku = remaining[0]
        n = order.order_number
        turns = []
        if guest and order.email:
            turns += [
                Turn(
                    "return_start",
                    f"I want to return an item from order #{n}",
                    contains("e-mail"),
                    True,
                ),
                self._item_question("return_email", order.email, n, remaining),
            ]
            metadata = None
        else:
            turns.append(
                self._item_question(
                    "return_start", f"I want to return an item from order #{n}", n, remaining
                )
            )
            metadata = self._token(order.customer_id)
        if len(remaining) > 1:
            payload = "/inform" + json.dumps({"sku": sku})
            turns.append(Turn("return_item", payload, contains("reason"), True))
        turns += [
            Turn(
                "return_reason",
                self.rng.choice(REASONS),
                has_button("/affirm", "Shall I register", sku),
                True,
            ),
            Turn("return_confirm", "yes", contains("RMA-"), True),
        ]
        return Script(
            kind,
            turns,
            metadata=metadata,
            done=lambda outcome: self.data.give_back(order, sku, outcome, self.stub),
        )

    def _item_question(self, kind: str, text: str, number: int, remaining: list[str]) -> Turn:
        """The turn after which the bot knows the order: it names the only returnable item and
        asks the reason, or asks which item with one button per returnable line."""
        if len(remaining) == 1:
            return Turn(kind, text, contains(f"order #{number} is", remaining[0], "reason"), True)
        payload = "/inform" + json.dumps({"sku": remaining[0]})
        return Turn(kind, text, has_button(payload, "Which item"), True)

    def return_signed(self) -> Script:
        return self._return(guest=False)

    def return_guest(self) -> Script:
        return self._return(guest=True)

    def recommend_signed(self) -> Script:
        customer = self.rng.choice(self.data.customers)
        return Script(
            "recommend_signed",
            [
                self.greet(),
                Turn(
                    "recommend",
                    "what would you recommend for me?",
                    lambda r: product_cards(r) or contains("picks")(r),
                    True,
                ),
                self.thank(),
            ],
            metadata=self._token(customer),
        )

    def recommend_guest(self) -> Script:
        return Script(
            "recommend_guest",
            [
                Turn(
                    "recommend",
                    "can you recommend something?",
                    lambda r: product_cards(r) or contains("popular")(r),
                    True,
                ),
                self.thank(),
            ],
        )

    def faq(self) -> Script:
        first, second = self.rng.sample(FAQ, 2)
        return Script(
            "faq",
            [
                Turn("faq", first[0], contains(first[1]), False),
                Turn("faq", second[0], contains(second[1]), False),
                Turn("goodbye", self.rng.choice(["bye", "goodbye"]), contains("Goodbye"), False),
            ],
        )

    def smalltalk(self) -> Script:
        return Script(
            "smalltalk",
            [
                self.greet(),
                Turn("bot_challenge", "are you a bot?", contains("virtual assistant"), False),
                self.thank(),
            ],
        )

    def all_kinds(self) -> list[Script]:
        """One conversation of every kind (for warming the servers up)."""
        return [getattr(self, k)() for k in self.kinds]
