"""The NLU on real wording: messages real customers and staff wrote, scored as a user meets them.

``tests/rasa/nlu_real_wording.yml`` holds messages from public pages (support threads, help-centre
questions, customer tweets, papers' example utterances), each with its source and channel in the
example's metadata. They are never trained on (a test checks that no example under ``data/`` is
the same or nearly the same message). Each is parsed by the trained model, and the outcome is what
the person would see:

- **right**: the intent is right and, for an FAQ, so is the answer (the ResponseSelector's pick);
- **fallback**: the FallbackClassifier asked to rephrase (``nlu_fallback``);
- **confidently wrong**: another intent (or FAQ answer) was acted on;
- for out-of-scope messages, **declined**: ``out_of_scope`` or a fallback, not a shop answer.

Customer and staff messages are reported apart, with a per-intent table.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.server.rasa_model import ROOT

REAL_WORDING_SET = ROOT / "tests" / "rasa" / "nlu_real_wording.yml"
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
RETRIEVAL_INTENT = "faq"
CHANNELS = ("customer", "staff")
# Without a channel in its metadata, a message of these intents counts as a staff message.
STAFF_INTENTS = frozenset(
    {
        "stock_level",
        "demand_forecast",
        "reorder_advice",
        "segment_report",
        "sales_report",
        "experiment_report",
        "pause_promotion",
        "create_promotion",
        "promotion_list",
        "handoff_list",
        "handoff_stats",
    }
)
# Two messages are "nearly the same" when their word sets overlap this much (Jaccard).
NEAR_DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True)
class RealMessage:
    text: str
    intent: str  # full intent: "order_status", "faq/account"
    source: str
    channel: str  # "customer" or "staff"


@dataclass(frozen=True)
class Parse:
    """What the model made of a message: its intent (``nlu_fallback`` when it asked to rephrase)
    and, for the retrieval intent, the answer it picked (``faq/account``)."""

    intent: str
    confidence: float
    response_key: str | None = None


def _default_channel(intent: str) -> str:
    return "staff" if intent in STAFF_INTENTS else "customer"


def load_real_set(path: Path = REAL_WORDING_SET) -> list[RealMessage]:
    """The messages of a Rasa NLU YAML file, with the ``source`` and ``channel`` of each example's
    metadata. Any Rasa NLU file will do (``examples: |`` blocks too, entity annotations dropped);
    without a channel, staff intents count as staff messages and the rest as customers'."""
    import yaml

    messages = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
        if "intent" not in item:
            continue
        intent, examples = item["intent"], item.get("examples") or []
        if isinstance(examples, str):  # an "examples: |" block of "- text" lines
            examples = [line[2:] for line in examples.splitlines() if line.startswith("- ")]
        for example in examples:
            if isinstance(example, str):
                text = re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", example).strip()
                messages.append(RealMessage(text, intent, "", _default_channel(intent)))
                continue
            meta = example.get("metadata") or {}
            messages.append(
                RealMessage(
                    text=str(example["text"]).strip(),
                    intent=intent,
                    source=str(meta.get("source") or "").strip(),
                    channel=str(meta.get("channel") or _default_channel(intent)),
                )
            )
    return messages


def word_set(text: str) -> frozenset[str]:
    """The words of a message, lower case, with Rasa entity annotations reduced to their text."""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    plain = re.sub(r"\[([^\]]*)\]\{[^}]*\}", r"\1", plain)
    return frozenset(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", plain.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(
    messages: Iterable[str], examples: Iterable[str], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[str, str, float]]:
    """Pairs (message, example, similarity) whose word sets overlap at least ``threshold``."""
    by_words: dict[frozenset[str], str] = {}
    for example in examples:
        by_words.setdefault(word_set(example), example)
    found = []
    for message in messages:
        words = word_set(message)
        for example_words, example in by_words.items():
            similarity = jaccard(words, example_words)
            if similarity >= threshold:
                found.append((message, example, similarity))
                break
    return found


def outcome(message: RealMessage, parse: Parse) -> str:
    """``right``, ``fallback`` or ``wrong`` for an in-scope message; ``declined`` or ``wrong`` for
    an out-of-scope one."""
    if message.intent == OUT_OF_SCOPE:
        return "declined" if parse.intent in (OUT_OF_SCOPE, FALLBACK_INTENT) else "wrong"
    if parse.intent == FALLBACK_INTENT:
        return "fallback"
    base, _, _sub = message.intent.partition("/")
    if parse.intent != base:
        return "wrong"
    if base == RETRIEVAL_INTENT and parse.response_key != message.intent:
        return "wrong"
    return "right"


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def score(messages: list[RealMessage], parses: list[Parse]) -> dict:
    """The figures for each channel, and a per-intent table, from the parses of ``messages``."""
    if len(messages) != len(parses):
        raise ValueError(f"{len(messages)} messages but {len(parses)} parses")
    report: dict = {"messages": len(messages), "channels": {}}
    for channel in CHANNELS:
        pairs = [(m, p) for m, p in zip(messages, parses) if m.channel == channel]
        if not pairs:
            continue
        outcomes = [outcome(m, p) for m, p in pairs]
        in_scope = [o for (m, _), o in zip(pairs, outcomes) if m.intent != OUT_OF_SCOPE]
        oos = [o for (m, _), o in zip(pairs, outcomes) if m.intent == OUT_OF_SCOPE]
        faq = [o for (m, _), o in zip(pairs, outcomes) if m.intent.startswith("faq/")]
        counts = Counter(in_scope)
        report["channels"][channel] = {
            "messages": len(pairs),
            "in_scope": len(in_scope),
            "right": _share(counts["right"], len(in_scope)),
            "fallback": _share(counts["fallback"], len(in_scope)),
            "confidently_wrong": _share(counts["wrong"], len(in_scope)),
            "out_of_scope": len(oos),
            "out_of_scope_declined": _share(oos.count("declined"), len(oos)),
            "faq": len(faq),
            "faq_accuracy": _share(faq.count("right"), len(faq)),
            "per_intent": _per_intent(pairs, outcomes),
        }
    return report


def _label(parse: Parse) -> str:
    return (
        parse.response_key
        if parse.intent == RETRIEVAL_INTENT and parse.response_key
        else parse.intent
    )


def _per_intent(pairs: list[tuple[RealMessage, Parse]], outcomes: list[str]) -> dict:
    rows: dict[str, dict] = {}
    by_intent: dict[str, list[tuple[Parse, str]]] = defaultdict(list)
    for (message, parse), result in zip(pairs, outcomes):
        by_intent[message.intent].append((parse, result))
    for intent in sorted(by_intent):
        results = Counter(r for _, r in by_intent[intent])
        wrong_as = Counter(_label(p) for p, r in by_intent[intent] if r == "wrong")
        rows[intent] = {
            "n": len(by_intent[intent]),
            **{k: results[k] for k in ("right", "fallback", "wrong", "declined") if results[k]},
            "wrong_as": dict(wrong_as.most_common(3)),
        }
    return rows


def parse_with_model(model: Path, texts: list[str]) -> list[Parse]:
    """Parses every text with the trained Rasa model at ``model`` (its NLU pipeline, fallback
    included), as the server does for an incoming message."""
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parse at debug level through structlog; keep to the command's own level.
    configure_structlog(max(logging.getLogger().getEffectiveLevel(), logging.INFO))
    agent = Agent.load(str(model))

    async def parse_all() -> list[Parse]:
        parses = []
        for text in texts:
            result = await agent.parse_message(text)
            intent = result.get("intent") or {}
            selector = (result.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
            key = (selector.get("response") or {}).get("intent_response_key")
            parses.append(
                Parse(
                    intent=intent.get("name") or "",
                    confidence=float(intent.get("confidence") or 0.0),
                    response_key=key,
                )
            )
        return parses

    return asyncio.run(parse_all())


def evaluate_real_wording(model: Path, path: Path = REAL_WORDING_SET) -> tuple[dict, list[dict]]:
    """The report for the real-wording set at ``path`` and, per message, what the model did."""
    messages = load_real_set(path)
    parses = parse_with_model(model, [m.text for m in messages])
    report = score(messages, parses)
    report.update(model=str(model), real_wording_set=str(path))
    details = [
        {
            "text": m.text,
            "intent": m.intent,
            "channel": m.channel,
            "predicted": _label(p),
            "confidence": round(p.confidence, 4),
            "outcome": outcome(m, p),
            "source": m.source,
        }
        for m, p in zip(messages, parses)
    ]
    return report, details
