"""The storefront page in a real browser (Debian's Chromium driven by Playwright) against the real
assistant (``assistant`` fixture: demo shop, action server, Rasa server with the storefront and
socket.io channels). Every test saves a screenshot under test-output/screenshots/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser_support import chromium

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
REPLY_TIMEOUT_MS = 45_000
OFFLINE_TEXT = "Can't reach the assistant right now — we'll keep trying."
ORDER = "104233"
SESSION_ID = re.compile(r"[0-9a-f]{32}-[A-Za-z0-9_-]{22}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, assistant, request) -> Iterator[Page]:
    """A fresh browser profile (no stored session) on the storefront page."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(REPLY_TIMEOUT_MS)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    pg.goto(f"{assistant.rasa_url}/storefront/")
    expect(pg.locator("#products .product").first).to_be_visible()
    yield pg
    context.close()


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_chat(page: Page) -> None:
    if page.locator("#chat-panel").is_hidden():
        page.click("#chat-launcher")
    expect(page.locator("#chat-panel")).to_be_visible()
    expect(page.locator("#chat")).to_have_attribute("data-connection", "online")


def bot_texts(page: Page) -> list[str]:
    return page.locator(".msg-bot .bubble").all_inner_texts()


def say(page: Page, text: str) -> list[str]:
    """Types ``text``, presses Enter, waits for the reply; returns the new bot bubbles' texts."""
    # A slow machine may deliver the last part of the previous reply (its product cards) late:
    # count the bot's messages once they have settled, so that part is not taken for this reply.
    before = _settled_count(page)
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    expect(page.locator(".msg-user .bubble").last).to_have_text(text)
    return wait_reply(page, before)


def _settled_count(page: Page) -> int:
    """The number of bot messages once none arrived for a moment."""
    count = -1
    while count != page.locator(".msg-bot").count():
        count = page.locator(".msg-bot").count()
        page.wait_for_timeout(700)
    return count


def wait_reply(page: Page, before: int) -> list[str]:
    page.wait_for_function("n => document.querySelectorAll('.msg-bot').length > n", arg=before)
    # Rasa may send a reply in several messages: wait until the typing indicator is gone and
    # no new message arrived for a moment.
    expect(page.locator("#chat-typing")).to_be_hidden()
    _settled_count(page)
    return page.evaluate(
        """n => [...document.querySelectorAll('.msg-bot')].slice(n).map(
               m => [...m.querySelectorAll('.bubble')].map(b => b.innerText).join(' '))""",
        before,
    )


def sign_in_as(page: Page, first_name: str) -> str:
    # The demo customers are fetched after the page loads: wait for the one asked for.
    value = page.wait_for_function(
        """name => [...document.querySelectorAll('#signin-select option')]
              .find(o => o.textContent.startsWith(name))?.value""",
        arg=first_name,
    ).json_value()
    assert value, f"no demo customer named {first_name}"
    page.select_option("#signin-select", value)
    page.click("#signin-button")
    expect(page.locator("#signed-in")).to_be_visible()
    name = page.locator("#signed-in-name").inner_text()
    assert name.startswith(first_name)
    return name


def test_greet_with_the_keyboard(page):
    # Keyboard only: Tab to the launcher, Enter opens the chat and puts the cursor in the input.
    launcher = page.locator("#chat-launcher")
    for _ in range(30):
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the chat launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#chat-input")).to_be_focused()
    expect(page.locator("#chat")).to_have_attribute("data-connection", "online")
    expect(page.locator("#chat-log")).to_have_attribute("aria-live", "polite")
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-user .bubble").last).to_have_text("hello")
    replies = wait_reply(page, 0)
    assert replies and all(r.strip() for r in replies)
    assert re.search(r"\b(hi|hello|hey|welcome)\b", " ".join(replies), re.I), replies
    shot(page, "01-greet")
    # Escape closes the chat and gives focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.locator("#chat-panel")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_order_status_signed_in(page):
    name = sign_in_as(page, "Ada")
    open_chat(page)
    expect(page.locator("#chat-identity")).to_have_text(f"Signed in as {name}")
    replies = say(page, f"where is my order #{ORDER}")
    text = " ".join(replies)
    assert re.search(r"DHL|in transit", text, re.I), replies
    assert not re.search(r"e-?mail", text, re.I), replies
    shot(page, "02-order-signed-in")
    # Signing out tells the chat, and the next question is a guest's again.
    page.click("#signout-button")
    expect(page.locator("#chat-identity")).to_have_text("Chatting as a guest")
    expect(page.locator(".msg-note .bubble").last).to_contain_text("signed out")
    reply = " ".join(say(page, f"where is my order #{ORDER}"))
    assert re.search(r"e-?mail", reply, re.I) and not re.search(r"DHL", reply), reply


def test_order_status_as_guest(page):
    open_chat(page)
    replies = say(page, f"where is my order #{ORDER}")
    text = " ".join(replies)
    assert re.search(r"e-?mail", text, re.I), replies
    assert not re.search(r"DHL|in transit", text, re.I), replies
    replies = say(page, "ada@example.com")
    assert re.search(r"DHL|in transit", " ".join(replies), re.I), replies
    shot(page, "03-order-guest")


def test_recommendations_cards_and_quick_reply(page):
    sign_in_as(page, "Ada")
    open_chat(page)
    say(page, "can you recommend something for me?")
    cards = page.locator(".msg-bot .cards .card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 2
    first = cards.first
    name = first.locator(".card-name").inner_text().strip()
    assert name
    assert re.search(r"\d", first.locator(".card-price").inner_text())
    assert first.locator(".card-category").inner_text().strip()
    first.get_by_role("button", name=re.compile("^Add .* to cart")).click()
    expect(page.locator("#cart-count")).to_have_text("1")
    shot(page, "04-recommendation-cards")

    # "View" asks the assistant about that product (by SKU) and shows what was asked.
    before = page.locator(".msg-bot").count()
    first.get_by_role("button", name=re.compile("^View")).click()
    expect(page.locator(".msg-user .bubble").last).to_have_text(f"Tell me about {name}")
    assert name.lower() in " ".join(wait_reply(page, before)).lower()

    # Quick replies: cancelling an unshipped order asks Yes/No; "No" changes nothing.
    say(page, "please cancel my order #104235")
    quick = page.locator(".quick-reply:enabled")
    expect(quick).to_have_count(2)
    assert quick.all_inner_texts() == ["Yes", "No"]
    before = page.locator(".msg-bot").count()
    quick.nth(1).click()
    expect(page.locator(".msg-user .bubble").last).to_have_text("No")
    # A set of quick replies is used once: its buttons are disabled after the click.
    expect(page.locator(".quick-reply:enabled")).to_have_count(0)
    assert wait_reply(page, before)
    shot(page, "05-quick-reply")


def test_reload_keeps_history_and_session(page, assistant):
    open_chat(page)
    say(page, "hi there")
    session_id = page.locator("#chat").get_attribute("data-session-id")
    assert session_id and SESSION_ID.fullmatch(session_id)
    shown = page.locator("#chat-log .msg").all_inner_texts()
    page.reload()
    expect(page.locator("#chat-panel")).to_be_visible()  # it was open: it stays open
    expect(page.locator("#chat")).to_have_attribute("data-connection", "online")
    assert page.locator("#chat").get_attribute("data-session-id") == session_id
    assert page.locator("#chat-log .msg").all_inner_texts() == shown
    # The server's conversation is the same one: the next message goes to the same tracker.
    say(page, "thanks")
    events = assistant.tracker(session_id, channel="web")["events"]
    said = [e.get("text") for e in events if e.get("event") == "user"]
    assert said[-2:] == ["hi there", "thanks"], said
    shot(page, "06-after-reload")


def _stored(page: Page) -> str:
    return page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")


def test_signing_out_ends_the_conversation_and_clears_the_page(page, assistant):
    """The next person at this browser sees nothing of the signed-in customer's chat, and the
    server forgets it: the conversation ends (Rasa's restart) and a new one begins."""
    sign_in_as(page, "Ada")
    open_chat(page)
    assert re.search(r"DHL", " ".join(say(page, f"where is my order #{ORDER}")))
    first = page.locator("#chat").get_attribute("data-session-id")
    page.click("#signout-button")
    expect(page.locator("#chat-log .msg")).to_have_count(1)
    expect(page.locator(".msg-note .bubble")).to_contain_text("new conversation")
    page.wait_for_function(
        "s => document.getElementById('chat').dataset.sessionId && "
        "document.getElementById('chat').dataset.sessionId !== s",
        arg=first,
    )
    second = page.locator("#chat").get_attribute("data-session-id")
    assert SESSION_ID.fullmatch(second) and second != first
    assert "DHL" not in _stored(page) and first not in _stored(page)
    assert assistant.tracker(first, channel="web")["events"] == []  # nothing since the restart
    events = assistant.tracker(first, channel="web", events="ALL")["events"]
    assert events[-1]["event"] == "restart"
    assert any(e.get("text", "").startswith("where is my order") for e in events)
    shot(page, "10-signed-out-new-conversation")


def test_end_chat_forgets_what_a_guest_said(page, assistant):
    open_chat(page)
    say(page, f"where is my order #{ORDER}")
    assert re.search(r"DHL", " ".join(say(page, "ada@example.com")))
    first = page.locator("#chat").get_attribute("data-session-id")
    assert assistant.tracker(first, channel="web")["slots"]["email"] == "ada@example.com"
    page.click("#chat-end")
    expect(page.locator("#chat-log .msg")).to_have_count(1)
    expect(page.locator(".msg-note .bubble")).to_contain_text("Chat ended")
    page.wait_for_function(
        "s => document.getElementById('chat').dataset.sessionId && "
        "document.getElementById('chat').dataset.sessionId !== s",
        arg=first,
    )
    ended = assistant.tracker(first, channel="web")
    assert ended["slots"]["email"] is None and ended["slots"]["order_number"] is None
    assert "ada@example.com" not in _stored(page)
    # The next question starts from nothing: the e-mail is asked again.
    reply = " ".join(say(page, f"where is my order #{ORDER}"))
    assert re.search(r"e-?mail", reply, re.I) and "DHL" not in reply, reply


def test_a_closed_tab_does_not_hand_the_chat_to_the_next_person(browser, assistant):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(REPLY_TIMEOUT_MS)
        page.goto(f"{assistant.rasa_url}/storefront/")
        sign_in_as(page, "Ada")
        open_chat(page)
        assert re.search(r"DHL", " ".join(say(page, f"where is my order #{ORDER}")))
        first = page.locator("#chat").get_attribute("data-session-id")
        page.close()  # the sign-in lived in this tab; the chat's storage is the browser's
        nxt = context.new_page()
        nxt.set_default_timeout(REPLY_TIMEOUT_MS)
        nxt.goto(f"{assistant.rasa_url}/storefront/")
        open_chat(nxt)
        expect(nxt.locator("#chat-identity")).to_have_text("Chatting as a guest")
        expect(nxt.locator("#chat-log .msg")).to_have_count(0)
        assert nxt.locator("#chat").get_attribute("data-session-id") != first
        assert "DHL" not in nxt.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    finally:
        context.close()


def test_injection_is_shown_as_text(page):
    open_chat(page)
    attack = "<img src=x onerror=alert(1)>"
    say(page, attack)
    assert page.locator("#chat-log img").count() == 0
    expect(page.locator(".msg-user .bubble").last).to_have_text(attack)
    assert page.dialogs == []  # type: ignore[attr-defined]
    shot(page, "07-injection-as-text")


def test_links_are_clickable_and_safe(page):
    # No bot answer is needed: the history drawn at load goes through the same rendering.
    page.evaluate(
        """() => localStorage.setItem('shopbot.chat.history', JSON.stringify([
             {role: 'bot', text: 'See https://example.com/returns. Or javascript:alert(1)'}]))"""
    )
    page.reload()
    open_chat(page)
    link = page.locator(".msg-bot .bubble a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/returns")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator(".msg-bot .bubble")).to_contain_text("javascript:alert(1)")


def test_phone_sized_screen(browser, assistant):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        page.goto(f"{assistant.rasa_url}/storefront/")
        expect(page.locator("#products .product").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the shop front scrolls sideways on a phone"
        page.click("#chat-launcher")
        expect(page.locator("#chat")).to_have_attribute("data-connection", "online")
        box = page.locator("#chat-panel").bounding_box()
        assert box and box["width"] >= 389 and box["height"] >= 843, box
        say(page, "hello")
        shot(page, "08-phone")
    finally:
        context.close()


def _live_offer_for(assistant, customer_id: int, name: str, percent: int) -> str:
    """A live promotion with a code for ``customer_id`` only (its target matches nobody, so no
    other test's customer is offered it); its code."""
    import datetime as dt

    from shop.promotions.admin import create_promotion, set_status
    from shop.promotions.codes import new_code
    from shop.store import make_engine, session_scope
    from shop.store.models import utcnow
    from shop.store.promotion_models import PromotionCode

    now, code = utcnow(), new_code()
    with session_scope(make_engine(assistant.db_url)) as s:
        p = create_promotion(
            s, name=name, target={"rule": {"spend_min": 10**9}}, reward_kind="percent",
            reward_value=percent, starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(days=7),
        )  # fmt: skip
        set_status(s, p.id, "active")
        s.add(PromotionCode(code=code, promotion_id=p.id, customer_id=customer_id))
    return code


def _end_promotions(assistant, names: list[str]) -> None:
    from shop.promotions.admin import set_status
    from shop.store import make_engine, session_scope

    with session_scope(make_engine(assistant.db_url)) as s:
        for name in names:
            set_status(s, name, "ended")


def test_an_offer_seen_once_declined_then_asked_for_again(page, assistant):
    from sqlalchemy import select

    from actions.promotions import OPTED_IN, OPTED_OUT
    from shop.store import make_engine, session_scope
    from shop.store.promotion_models import Exposure, OfferConsent, Promotion

    # The last demo account on the sign-in list: not one the other tests sign in as.
    page.wait_for_function("() => document.querySelectorAll('#signin-select option').length > 2")
    option = page.locator("#signin-select option").last
    customer_id, first_name = int(option.get_attribute("value")), option.inner_text().split()[0]
    suffix = uuid.uuid4().hex[:6]
    names = [f"browser-offer-{suffix}", f"browser-offer-again-{suffix}"]
    code = _live_offer_for(assistant, customer_id, names[0], 15)
    try:
        page.select_option("#signin-select", str(customer_id))
        page.click("#signin-button")
        expect(page.locator("#signed-in-name")).to_contain_text(first_name)
        open_chat(page)

        first = " ".join(say(page, "can you recommend something for me?"))
        assert "you have 15% off your next order until" in first and code in first
        expect(page.locator(".msg-bot .bubble", has_text=code)).to_have_count(1)
        shot(page, "offer-shown")

        assert say(page, "no more offers") == [OPTED_OUT]
        later = " ".join(say(page, "what would you recommend?"))
        assert "By the way" not in later and "SB-" not in later
        expect(page.locator(".msg-bot .bubble", has_text=code)).to_have_count(1)
        shot(page, "offer-declined")

        engine = make_engine(assistant.db_url)
        with session_scope(engine) as s:
            promotion_id = s.execute(
                select(Promotion.id).where(Promotion.name == names[0])
            ).scalar_one()
            ledger = s.execute(
                select(OfferConsent.choice, OfferConsent.reason, OfferConsent.source).where(
                    OfferConsent.customer_id == customer_id
                )
            ).all()
            exposures = s.execute(
                select(Exposure.channel).where(
                    Exposure.customer_id == customer_id, Exposure.promotion_id == promotion_id
                )
            ).all()
        assert ledger == [("opt_out", "no more offers", "chat")]
        assert len(exposures) == 1

        # "Send me offers again": an opt-in in the ledger, and the next new offer is shown.
        assert say(page, "send me offers again") == [OPTED_IN]
        again_code = _live_offer_for(assistant, customer_id, names[1], 20)
        resumed = " ".join(say(page, "can you recommend something for me?"))
        assert "you have 20% off your next order" in resumed and again_code in resumed
        with session_scope(engine) as s:
            choices = (
                s.execute(
                    select(OfferConsent.choice)
                    .where(OfferConsent.customer_id == customer_id)
                    .order_by(OfferConsent.id)
                )
                .scalars()
                .all()
            )
        assert choices == ["opt_out", "opt_in"]
        shot(page, "offer-resumed")
    finally:
        _end_promotions(assistant, [n for n in names if _exists(assistant, n)])


def _exists(assistant, name: str) -> bool:
    from sqlalchemy import select

    from shop.store import make_engine, session_scope
    from shop.store.promotion_models import Promotion

    with session_scope(make_engine(assistant.db_url)) as s:
        return s.execute(select(Promotion.id).where(Promotion.name == name)).first() is not None


def test_error_state_when_rasa_stops(page, assistant):
    """Runs last: it stops the Rasa server and starts it again."""
    open_chat(page)
    expect(page.locator("#chat-error")).to_be_hidden()
    assistant.stop_rasa()
    try:
        error = page.locator("#chat-error")
        expect(error).to_be_visible(timeout=20_000)
        expect(error).to_have_text(OFFLINE_TEXT)
        expect(error).to_have_attribute("role", "alert")
        expect(page.locator("#chat-send")).to_be_disabled()
        shot(page, "09-server-down")
    finally:
        assistant.start_rasa()
    # socket.io reconnects by itself and the page recovers.
    expect(page.locator("#chat")).to_have_attribute("data-connection", "online", timeout=30_000)
    expect(page.locator("#chat-error")).to_be_hidden()


def test_a_colleague_takes_the_chat_over_from_slack_and_hands_it_back(page, assistant):
    from bot.handoff.relay import JOINED, WELCOME_BACK
    from support.handoff_support import (
        press,
        send_event,
        thread_event,
        thread_posts,
        wait_card,
        wait_until,
    )
    from support.servers import STAFF_SLACK_USER

    url, slack = assistant.rasa_url, assistant.slack
    open_chat(page)
    reply = " ".join(say(page, "I want to talk to a human"))
    ticket = int(re.search(r"ticket #(\d+)", reply).group(1))
    hid, thread_ts, _ = wait_card(slack, ticket)
    # Sam takes over and answers in the Slack thread: both appear in the widget, with his name.
    assert press(url, "handoff_take", hid, STAFF_SLACK_USER)[0] == 200
    expect(page.locator(".msg-agent .bubble").last).to_have_text(JOINED.format(name="Sam"))
    send_event(url, thread_event("Hello, I'm Sam. What happened?", STAFF_SLACK_USER, thread_ts))
    expect(page.locator(".msg-agent .bubble").last).to_have_text("Hello, I'm Sam. What happened?")
    expect(page.locator(".msg-agent .msg-author").last).to_have_text("Sam from the team")
    # The customer's answer reaches the thread; the bot says nothing, and no typing dots wait.
    bot_before = page.locator(".msg-bot").count()
    page.fill("#chat-input", "My parcel is a week late")
    page.press("#chat-input", "Enter")
    expect(page.locator("#chat-typing")).to_be_hidden()
    wait_until(
        lambda: "Customer: My parcel is a week late" in thread_posts(slack, thread_ts),
        what="the customer's answer in the thread",
    )
    page.wait_for_timeout(1500)
    assert page.locator(".msg-bot").count() == bot_before
    shot(page, "handoff-with-colleague")
    # The customer leaves; Sam answers meanwhile; the reply is there when they come back.
    page.goto("about:blank")
    page.wait_for_timeout(1000)  # the server has seen the socket close
    send_event(url, thread_event("A new parcel leaves today.", STAFF_SLACK_USER, thread_ts))
    wait_until(lambda: _outbox_empty(assistant, hid) is False, what="the reply waiting")
    page.goto(f"{url}/storefront/")
    open_chat(page)
    expect(page.locator(".msg-agent .bubble").last).to_have_text("A new parcel leaves today.")
    expect(page.locator(".msg-agent .bubble", has_text="A new parcel leaves today.")).to_have_count(
        1
    )
    # Sam resolves: the bot greets the customer back and answers the next question again.
    assert press(url, "handoff_resolve", hid, STAFF_SLACK_USER)[0] == 200
    expect(page.locator(".msg-bot .bubble").last).to_have_text(WELCOME_BACK)
    answer = " ".join(say(page, "which payment methods do you accept?"))
    assert answer and "support team" not in answer
    shot(page, "handoff-back-to-bot")


def _outbox_empty(assistant, handoff_id: int) -> bool:
    from sqlalchemy import select

    from shop.store import make_engine, session_scope
    from shop.store.models import HandoffMessage

    with session_scope(make_engine(assistant.db_url)) as s:
        waiting = s.execute(
            select(HandoffMessage.id).where(
                HandoffMessage.handoff_id == handoff_id,
                HandoffMessage.direction == "to_customer",
                HandoffMessage.delivered_at.is_(None),
            )
        ).all()
    return not waiting
