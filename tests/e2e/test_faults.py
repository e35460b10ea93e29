"""Faults while customers talk, against the assistant as it runs in production (``pg_assistant``
in tests/support/servers.py: the shop and the conversations on a private PostgreSQL server, two Rasa
servers sharing them with a Redis lock store, one action server).

- The action server killed (SIGKILL) while Rasa waits for it, in the middle of a form and of a
  confirmation: a polite apology, nothing written, and the same messages work once it is back.
  The same for the shop's database alone refusing connections at a confirmation.
- A Rasa server restarted: the open form still asks its question.
- PostgreSQL stopped and started while conversations run, and restarted while idle: every reply is
  a right answer or the apology, nothing is half-written, everything works again without
  restarting shopbot.
- One conversation alternating between the two Rasa servers, also with messages sent to both at
  once: right replies, and the tracker holds exactly the messages sent, none lost or doubled.

Demo orders used here: 104233 (only read), 104234 (HOM-0001 returned while the shop database is
down; its CLO-0001 is raced for in tests/e2e/test_concurrency.py), 104235 (cancelled across the two
servers), 104240 (returns: FOO-0001 in the kill test, HOM-0001 during the PostgreSQL outage),
104241 (cancelled during the outage).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from shop.errors import APOLOGY
from shop.store import make_engine, session_scope
from shop.store.models import Order, OrderItem, Product, Return
from support.conversation import Chat, buttons, http_error_text, is_apology, texts_of

pytestmark = [pytest.mark.rasa, pytest.mark.postgres, pytest.mark.slow]

ADA, GRACE = 1, 2  # the demo accounts' customer ids
TRACKING = "JD0146104233001"  # order 104233's tracking number: its status was given


@pytest.fixture(scope="module")
def shop(pg_assistant):
    eng = make_engine(pg_assistant.db_url)
    yield eng
    eng.dispose()


def _returns(shop, order_number: int) -> list[tuple[str, str, int, str]]:
    """(RMA, SKU, quantity, status) of the order's returns."""
    with session_scope(shop) as s:
        rows = s.execute(
            select(Return.rma_number, Product.sku, Return.quantity, Return.status)
            .join(Order, Return.order_id == Order.id)
            .join(OrderItem, Return.order_item_id == OrderItem.id)
            .join(Product, OrderItem.product_id == Product.id)
            .where(Order.order_number == order_number)
            .order_by(Return.id)
        ).all()
    return [tuple(r) for r in rows]


def _rma_in(text: str) -> str:
    start = text.index("RMA-")
    return text[start : start + 10]


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = 120,
    details: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{details()}")
        time.sleep(0.05)


def _unread_requests(port: int) -> int:
    """Connections to ``port`` on this machine with bytes its server has not read yet."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local_port = int(cols[1].rsplit(":", 1)[1], 16)
                established = cols[3] == "01"
                unread = int(cols[4].split(":")[1], 16)
                if local_port == port and established and unread:
                    count += 1
    return count


def _tracker_state(a, chat: Chat) -> tuple[str | None, str | None, dict]:
    tracker = a.tracker(chat.sender)
    return (
        (tracker.get("active_loop") or {}).get("name"),
        tracker["slots"].get("requested_slot"),
        tracker["slots"],
    )


def _ask_for_a_return(chat: Chat, order_number: int, sku: str, reason: str) -> list[dict]:
    """Runs the return form up to the confirmation question; its replies."""
    replies = chat.say(f"I want to return an item from order #{order_number}")
    choice = [b for b in buttons(replies) if sku in b["title"]]
    if choice:  # several items left: pick ours, as the customer clicks it
        replies = chat.say(choice[0]["payload"])
    assert "reason" in texts_of(replies).lower(), replies
    replies = chat.say(reason)
    assert "Shall I register the return?" in texts_of(replies), replies
    return replies


# ---- 1. the action server killed mid-turn ------------------------------------------------------


def test_action_server_killed_mid_turn_apologises_and_the_conversation_goes_on(pg_assistant, shop):
    a = pg_assistant
    guest = Chat(a, server=0)
    assert "e-mail" in guest.texts("where is my order #104233")
    grace = Chat(a, GRACE, server=1)
    _ask_for_a_return(grace, 104240, "FOO-0001", "it melted")
    returns_before = _returns(shop, 104240)

    # Freeze the action server, send both answers (one to each Rasa server), and kill it while
    # both requests wait unread in its sockets: it dies in the middle of two turns.
    port = int(a.action_url.rsplit(":", 1)[1])
    actions = a.services["actions"].proc
    os.killpg(actions.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(2) as pool:
            email = pool.submit(guest.say, "ada@example.com")
            yes = pool.submit(grace.say, "yes")
            _wait_for(lambda: _unread_requests(port) >= 2, "both requests at the action server")
            a.kill_actions()
            replies = [email.result(timeout=120), yes.result(timeout=120)]
        # A polite apology, nothing else; no return registered.
        assert [texts_of(r) for r in replies] == [APOLOGY, APOLOGY]
        assert _returns(shop, 104240) == returns_before
    finally:
        if actions.poll() is None:
            a.kill_actions()
        a.start_actions()

    # The failed turns were forgotten: the form still asks for the e-mail (none kept), the
    # return still waits for its "yes".
    loop, requested, slots = _tracker_state(a, guest)
    assert (loop, requested, slots["email"]) == ("order_lookup_form", "email", None)
    assert guest.user_texts() == ["where is my order #104233"]
    assert grace.user_texts()[-1] == "it melted"
    # The customers do what the apology said: the same messages again.
    assert TRACKING in guest.texts("ada@example.com")
    reply = grace.texts("yes")
    assert "Your return is registered." in reply, reply
    assert _returns(shop, 104240) == returns_before + [(_rma_in(reply), "FOO-0001", 3, "requested")]


def test_shop_database_down_alone_apologises_and_the_confirmation_still_counts(pg_assistant, shop):
    a = pg_assistant
    ada = Chat(a, ADA, server=0)
    _ask_for_a_return(ada, 104234, "HOM-0001", "the lid leaks")
    returns_before = _returns(shop, 104234)

    # The shop's database refuses connections; the conversations' database still works.
    a.postgres.refuse_connections("shop")
    try:
        replies = ada.say("yes", server=1)
    finally:
        a.postgres.accept_connections("shop")
    # The action's own apology (nothing else), and no return registered.
    assert texts_of(replies) == APOLOGY
    assert _returns(shop, 104234) == returns_before
    # The turn was forgotten: the same "yes" registers the return once the database is back.
    assert ada.user_texts()[-1] == "the lid leaks"
    reply = ada.texts("yes", server=0)
    assert "Your return is registered." in reply, reply
    assert _returns(shop, 104234) == returns_before + [(_rma_in(reply), "HOM-0001", 1, "requested")]


# ---- 2. a Rasa server restarted ----------------------------------------------------------------


def test_rasa_server_restart_keeps_the_open_form_in_postgres(pg_assistant):
    a = pg_assistant
    chat = Chat(a, server=1)
    assert "e-mail" in chat.texts("where is my order #104233")
    a.stop_rasa(1)
    try:
        # While it is down the other server sees the same open form.
        assert _tracker_state(a, chat)[:2] == ("order_lookup_form", "email")
    finally:
        a.start_rasa(1)
    assert a.tracker(chat.sender, server=1)["active_loop"]["name"] == "order_lookup_form"
    assert TRACKING in chat.texts("ada@example.com", server=1)
    assert chat.user_texts(server=1) == ["where is my order #104233", "ada@example.com"]


# ---- 3. PostgreSQL restarted while conversations run -------------------------------------------

DONE = "done"


class Unexpected(AssertionError):
    """The bot answered something that is neither right nor the apology."""


@dataclass
class Task:
    """What a customer wants done: the first message, then what to say to each reply."""

    opening: str
    reply_to: Callable[[str, list[dict], list[str]], str]  # (text, replies, notes) -> next / DONE
    notes: list[str] = field(default_factory=list)


def order_status_task() -> Task:
    def reply_to(text: str, replies: list[dict], notes: list[str]) -> str:
        if TRACKING in text:
            return DONE
        if "e-mail" in text:
            return "ada@example.com"
        raise Unexpected(text)

    return Task("where is my order #104233", reply_to)


def cancel_task(order_number: int) -> Task:
    def reply_to(text: str, replies: list[dict], notes: list[str]) -> str:
        done = f"Done: order #{order_number} is cancelled"
        if done in text or f"Order #{order_number} is already cancelled" in text:
            return DONE
        if "Shall I cancel it now?" in text and "/affirm" in [
            b["payload"] for b in buttons(replies)
        ]:
            return "yes"
        raise Unexpected(text)

    return Task(f"please cancel my order #{order_number}", reply_to)


def cancelled_status_task(order_number: int) -> Task:
    def reply_to(text: str, replies: list[dict], notes: list[str]) -> str:
        if f"Order #{order_number}" in text and "was cancelled" in text:
            return DONE
        raise Unexpected(text)

    return Task(f"where is my order #{order_number}?", reply_to)


def return_task(order_number: int, sku: str) -> Task:
    def reply_to(text: str, replies: list[dict], notes: list[str]) -> str:
        if "RMA-" in text and ("registered" in text or "already has a return" in text):
            notes.append(_rma_in(text))
            return DONE
        if "Shall I register the return?" in text:
            return "yes"
        if "reason" in text.lower():
            return "the lid leaks"
        ours = [b["payload"] for b in buttons(replies) if f"({sku})" in b["title"]]
        if ours:
            return ours[0]
        raise Unexpected(text)

    return Task(f"I want to return an item from order #{order_number}", reply_to)


def return_status_task(rma: str) -> Task:
    def reply_to(text: str, replies: list[dict], notes: list[str]) -> str:
        if f"Return {rma}" in text:
            return DONE
        raise Unexpected(text)

    return Task(f"what's the status of my return {rma}?", reply_to)


@dataclass
class Turn:
    at: float
    said: str
    replied: str
    apology: bool


class Customer(threading.Thread):
    """Works through tasks in one conversation until stopped: first ``first`` (if any), then
    ``then(notes of the first)`` again and again. After an apology it sends the same message
    again, as the apology asks. Records every turn; stops at the first wrong reply.

    With ``hold``, the first task's "yes" waits until ``hold`` is set: the confirmation is sent
    as the outage begins. ``ready`` is set once a task was done or the "yes" is waiting."""

    def __init__(
        self,
        chat: Chat,
        first: Task | None,
        then: Callable[[list[str]], Task],
        stop: threading.Event,
        hold: threading.Event | None = None,
    ):
        super().__init__(daemon=True)
        self.chat, self.first, self.then, self.stop, self.hold = chat, first, then, stop, hold
        self.turns: list[Turn] = []
        self.completed: list[float] = []  # when each task was done
        self.notes: list[str] = []
        self.error: str | None = None
        self.ready = threading.Event()
        self.up_at: float | None = None  # set once the database is back

    def summary(self) -> str:
        """Where this customer stands, for failure messages."""
        last = "; ".join(
            f"{t.said!r} -> {'APOLOGY' if t.apology else repr(t.replied[:90])}"
            for t in self.turns[-3:]
        )
        return f"{self.chat.sender}: done {len(self.completed)}x, error={self.error}, last: {last}"

    def run(self) -> None:
        try:
            self._talk()
        finally:
            self.ready.set()

    def _talk(self) -> None:
        task = self.first or self.then([])
        message = task.opening
        while not self.stop.is_set():
            if self.hold is not None and task is self.first and message == "yes":
                self.ready.set()
                self.hold.wait()
            try:
                replies = self.chat.say(message, timeout=120)
            except urllib.error.HTTPError as err:
                self.error = f"{message!r}: {http_error_text(err)}"
                return
            except Exception as err:  # timeout, refused connection: recorded as a failure
                self.error = f"{message!r}: {type(err).__name__}: {err}"
                return
            text = texts_of(replies)
            apology = is_apology(replies)
            self.turns.append(Turn(time.monotonic(), message, text, apology))
            if not replies or not text.strip():
                self.error = f"{message!r}: no reply ({replies!r})"
                return
            if apology:
                if (
                    self.up_at is not None
                    and self.apologies_between(self.up_at, time.monotonic()) > 10
                ):
                    self.error = f"{message!r}: still apologising after the database came back"
                    return
                self.stop.wait(0.2)  # pace the retries while the database is down
                continue
            try:
                message = task.reply_to(text, replies, task.notes)
            except Unexpected:
                self.error = f"{message!r}: unexpected reply {text!r}"
                return
            if message == DONE:
                self.completed.append(time.monotonic())
                self.ready.set()
                if task is self.first:
                    self.notes = list(task.notes)
                task = self.then(self.notes)
                message = task.opening

    def done_since(self, moment: float) -> bool:
        return any(t > moment for t in self.completed)

    def apologies_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.turns if t.apology and start <= t.at <= end)


def test_postgres_restart_while_conversations_run(pg_assistant, shop):
    a, pg = pg_assistant, pg_assistant.postgres
    stop, outage = threading.Event(), threading.Event()
    customers = [
        Customer(Chat(a, server=0), None, lambda _: order_status_task(), stop),
        Customer(Chat(a, server=1), None, lambda _: order_status_task(), stop),
        Customer(
            Chat(a, GRACE, server=0),
            cancel_task(104241),
            lambda _: cancelled_status_task(104241),
            stop,
            hold=outage,
        ),
        Customer(
            Chat(a, GRACE, server=1),
            return_task(104240, "HOM-0001"),
            lambda notes: return_status_task(notes[-1]),
            stop,
            hold=outage,
        ),
    ]
    for c in customers:
        c.start()
    try:
        # Everyone is served before the outage (the cancellation and the return wait at their
        # confirmation question)...
        _wait_for(lambda: all(c.ready.is_set() for c in customers), "a first answer", 300)
        assert [c.error for c in customers] == [None] * 4, "\n".join(c.summary() for c in customers)
        # ...then the two customers say "yes" and PostgreSQL goes down under the conversations;
        # it comes back once each of them has been told to try again.
        outage.set()
        down_at = time.monotonic()
        pg.stop()
        _wait_for(
            lambda: all(
                c.apologies_between(down_at, time.monotonic()) or c.error for c in customers
            ),
            "an apology in every conversation",
            details=lambda: "\n".join(c.summary() for c in customers),
        )
        pg.start()
        up_at = time.monotonic()
        for c in customers:
            c.up_at = up_at
        _wait_for(
            lambda: all(c.done_since(up_at) or c.error for c in customers),
            "service after the restart",
            300,
            details=lambda: "\n".join(c.summary() for c in customers),
        )
    finally:
        outage.set()
        stop.set()
        for c in customers:
            c.join(180)
        if not pg.is_ready():
            pg.start()

    # Every reply was right or the apology; every conversation was told to try again while the
    # database was down and was served again after it came back.
    assert [c.error for c in customers] == [None] * 4, "\n".join(c.summary() for c in customers)
    assert all(c.apologies_between(down_at, up_at) for c in customers)
    assert all(c.done_since(up_at) for c in customers)
    # Nothing half-written: the order is cancelled with its time, the kettle has one return,
    # the one the customer was given.
    with session_scope(shop) as s:
        status, cancelled_at = s.execute(
            select(Order.status, Order.cancelled_at).where(Order.order_number == 104241)
        ).one()
    assert status == "cancelled" and cancelled_at is not None
    rma = customers[3].notes[-1]
    assert [r for r in _returns(shop, 104240) if r[1] == "HOM-0001"] == [
        (rma, "HOM-0001", 1, "requested")
    ]
    # What each conversation remembers ends with the last answer its customer saw (apologised
    # turns don't count), all in one session (a store that lost the conversation starts anew).
    for c in customers:
        last_answer = [t for t in c.turns if not t.apology][-1]
        events = a.tracker(c.chat.sender)["events"]
        assert [e["text"] for e in events if e["event"] == "bot"][-1] in last_answer.replied
        assert sum(e["event"] == "session_started" for e in events) == 1

    # A restart while nobody talks: the very next turn works on both Rasa servers, for old
    # conversations and new ones (no stale connection is handed out).
    pg.restart()
    for server in (0, 1):
        old = customers[server].chat
        assert not is_apology(old.say("where is my order #104233", server=server))
        new = Chat(a, server=server)
        assert "e-mail" in new.texts("where is my order #104233")
        assert TRACKING in new.texts("ada@example.com")
    assert "was cancelled" in customers[2].chat.texts("where is my order #104241?", server=1)


# ---- 4. two Rasa servers, one conversation -----------------------------------------------------


def test_one_conversation_alternating_between_two_rasa_servers(pg_assistant, shop):
    a = pg_assistant
    ada = Chat(a, ADA)
    guest = Chat(a)
    script: list[tuple[Chat, int, str, Callable[[list[dict]], bool]]] = [
        (ada, 0, "hello", lambda r: "assistant" in texts_of(r)),
        (ada, 1, "where is my order #104233?", lambda r: TRACKING in texts_of(r)),
        (guest, 1, "where is my order #104233", lambda r: "e-mail" in texts_of(r)),
        (
            ada,
            0,
            "please cancel my order #104235",
            lambda r: "Shall I cancel it now?" in texts_of(r),
        ),
        (guest, 0, "ada@example.com", lambda r: TRACKING in texts_of(r)),
        (ada, 1, "yes", lambda r: "Done: order #104235 is cancelled" in texts_of(r)),
        (ada, 0, "how long does delivery take?", lambda r: "working days" in texts_of(r)),
        (ada, 1, "where is my order #104235?", lambda r: "was cancelled" in texts_of(r)),
        (guest, 1, "thanks", lambda r: bool(texts_of(r)) and not is_apology(r)),
    ]
    for chat, server, text, right in script:
        replies = chat.say(text, server=server)
        assert right(replies), (server, text, replies)

    for chat in (ada, guest):
        sent = [text for c, _, text, _ in script if c is chat]
        assert chat.user_texts(server=0) == sent
        assert chat.user_texts(server=1) == sent
    with session_scope(shop) as s:
        status, cancelled_at = s.execute(
            select(Order.status, Order.cancelled_at).where(Order.order_number == 104235)
        ).one()
    assert status == "cancelled" and cancelled_at is not None


def test_messages_sent_to_both_servers_at_once_are_handled_one_after_another(pg_assistant):
    a = pg_assistant
    chat = Chat(a)
    messages = [f"hello there {i}" for i in range(16)]
    barrier = threading.Barrier(len(messages))

    def send(i: int) -> list[dict]:
        barrier.wait(timeout=60)
        return chat.say(messages[i], server=i % 2)

    with ThreadPoolExecutor(len(messages)) as pool:
        replies = list(pool.map(send, range(len(messages))))

    assert all("assistant" in texts_of(r) and not is_apology(r) for r in replies), replies
    events = a.tracker(chat.sender)["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(users) == sorted(messages)  # none lost, none twice
    # The Redis lock store serialised the turns: each one ran to its end (the bot answered and
    # listened again) before the next message was taken, whichever server took it.
    kinds = [e["event"] if e["event"] != "action" else e["name"] for e in events]
    turns = "|".join(kinds).split("|user|")[1:]
    assert len(turns) == len(messages)
    assert all(t.endswith("action_listen") and "|bot|" in f"|{t}|" for t in turns), turns
    assert sum(k == "session_started" for k in kinds) == 1
