"""Learning from the shop's own customers: the messages the assistant did not understand, for
staff to label, and the labelled ones added to the training data.

``review`` reads the stored conversations (the tracker store) and lists every message the NLU
sent to the fallback ("did you mean…?"), most frequent first, with what the classifier guessed
and — when the customer picked one of the offered buttons — the intent or FAQ question the
customer chose, which prefills the label. Personal data is masked before anything is written
(e-mail addresses, order and RMA numbers, phone and card numbers, links); the file names no
conversation or customer.

``learn`` takes that file back once staff have filled in ``intent`` where they know it, checks
every label against the domain's intents and FAQ questions (nothing is written if one is
unknown), leaves out messages already in the training data, and appends the rest to
``data/nlu/reviewed.yml``; the next ``shopbot train --with-rasa`` (or ``make train``) learns them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shop.errors import ShopbotError
from shop.faq_topics import topic_of_button

FALLBACK_INTENT = "nlu_fallback"
NONE_OF_THESE = "out_of_scope"  # the "Something else" button
REVIEWED_FILE = "reviewed.yml"
GUESSES = 3  # the most frequent first choices listed per message

# What is masked, in this order (an RMA number holds an order number's digits). Broader than
# shop.text's rules on purpose: those recognise valid identifiers, a mask hides anything shaped
# like one (any 6 digits, any address-like word).
MASKS = (
    (re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE), "https://example.com"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "someone@example.com"),
    (re.compile(r"\bRMA-?\s?\d{6}\b", re.IGNORECASE), "RMA-100000"),
    (re.compile(r"\+?\d[\d ()-]{6,}\d"), "0000000"),  # phone and card numbers (8+ digits)
    (re.compile(r"(?<!\d)\d{6}(?!\d)"), "100000"),  # order numbers
)
LONG_NUMBER_DIGITS = 8


class ReviewError(ShopbotError):
    """A review file that cannot be learnt from (unknown labels, not a review file)."""


def mask(text: str) -> str:
    """``text`` with its personal data replaced by placeholders of the same kind."""
    for pattern, placeholder in MASKS:
        text = pattern.sub(lambda m, p=placeholder: _placeholder(m.group(), p), text)
    return text


def _placeholder(found: str, placeholder: str) -> str:
    """The placeholder, except for a "phone or card number" of fewer than 8 digits, which is left
    to the next masks (an order number with a space, "(2 items)")."""
    if placeholder == "0000000" and sum(c.isdigit() for c in found) < LONG_NUMBER_DIGITS:
        return found
    return placeholder


def _normal(text: str) -> str:
    """What makes two messages the same one: their words, whatever the case, spacing and
    punctuation."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@dataclass
class Unclear:
    """One message (masked) the assistant sent to the fallback, however often it came."""

    text: str
    times: int = 0
    guesses: Counter = field(default_factory=Counter)  # intent -> how often it was the top guess
    chosen: Counter = field(default_factory=Counter)  # intent -> how often customers picked it

    def as_entry(self) -> dict[str, Any]:
        chosen = self.chosen.most_common(1)[0][0] if self.chosen else ""
        return {
            "text": self.text,
            "times": self.times,
            "assistant_guessed": [name for name, _ in self.guesses.most_common(GUESSES)],
            "customer_chose": chosen,
            "intent": chosen,
        }


def _top_guess(event: Mapping[str, Any]) -> list[str]:
    """The classifier's first choice before the fallback took over (none or one)."""
    ranking = (event.get("parse_data") or {}).get("intent_ranking") or []
    return [r["name"] for r in ranking if r.get("name") not in (None, FALLBACK_INTENT)][:1]


def _intent(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def _picked(answer: Mapping[str, Any]) -> str | None:
    """The label the customer chose with ``answer``, the message after a fallback, if it was one
    of the "did you mean" buttons: a task's button sends "/intent" ("Something else" chooses
    nothing), an FAQ topic's button its topic's question (shop.faq_topics)."""
    text = (answer.get("text") or "").strip()
    if not text.startswith("/"):
        return topic_of_button(text)
    picked = _intent(answer)
    return picked if picked not in (None, FALLBACK_INTENT, NONE_OF_THESE) else None


def unclear_messages(conversations: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Unclear]:
    """The fallback messages of ``conversations`` (each a list of Rasa user events in order),
    merged by their masked text, most frequent first."""
    found: dict[str, Unclear] = {}
    for _, events in sorted(conversations.items()):  # the same file from any store
        for i, event in enumerate(events):
            text = (event.get("text") or "").strip()
            if _intent(event) != FALLBACK_INTENT or not text or text.startswith("/"):
                continue
            masked = " ".join(mask(text).split())
            item = found.setdefault(_normal(masked), Unclear(masked))
            item.times += 1
            item.guesses.update(_top_guess(event))
            picked = _picked(events[i + 1] if i + 1 < len(events) else {})
            if picked:
                item.chosen[picked] += 1
    return sorted(found.values(), key=lambda u: (-u.times, u.text))


def review_document(unclear: Sequence[Unclear], since: dt.datetime, intents: Iterable[str]) -> str:
    """The review file: a YAML list to label, with a header that says how."""
    header = [
        f"# Messages the assistant did not understand, since {since:%Y-%m-%d %H:%M} UTC:",
        f"# {len(unclear)} different messages, most frequent first. Personal data is masked",
        "# (e-mails, order and RMA numbers, phone and card numbers, links); names or addresses a",
        "# customer typed are not: read the file before sharing it.",
        "# Set `intent` to what the customer meant (prefilled when the customer picked it from",
        "# the buttons) or leave it empty to skip; then: shopbot nlu learn THIS_FILE",
        "# Intents: " + ", ".join(sorted(intents)),
    ]
    body = yaml.safe_dump(
        [u.as_entry() for u in unclear], sort_keys=False, allow_unicode=True, width=100
    )
    return "\n".join(header) + "\n" + (body if unclear else "[]\n")


def known_intents(domain: Mapping[str, Any]) -> set[str]:
    """The labels a message can have: the domain's intents, where a retrieval intent is one of
    its questions (``faq/shipping_time``, from the ``utter_faq/…`` responses), never ``faq``
    alone (no answer would go with it)."""
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []}
    questions = {
        name[len("utter_") :]
        for name in domain.get("responses") or {}
        if "/" in name and name[len("utter_") :].split("/")[0] in intents
    }
    retrieval = {q.split("/")[0] for q in questions}
    return (intents - retrieval - {FALLBACK_INTENT}) | questions


def read_review(path: Path) -> list[dict[str, Any]]:
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReviewError(f"cannot read the review file {path}: {exc}") from exc
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("text"), str) for e in entries
    ):
        raise ReviewError(f"{path} is not a review file (a list of entries with a text)")
    return entries


def _example_line(text: str) -> str:
    """One training example line: one line, and no brackets Rasa would read as an entity."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def learn(
    entries: Sequence[Mapping[str, Any]],
    intents: set[str],
    existing: Iterable[str],
    target: Path,
) -> dict[str, Any]:
    """Appends the labelled ``entries`` to the NLU file ``target`` (created if missing), leaving
    out the unlabelled and those whose text is already an example (``existing``) or in
    ``target``. Raises :class:`ReviewError`, writing nothing, when a label is unknown."""
    labelled = [(str(e["text"]), str(e.get("intent") or "").strip()) for e in entries]
    unknown = sorted({label for _, label in labelled if label and label not in intents})
    if unknown:
        raise ReviewError(
            f"unknown intent(s) {', '.join(unknown)}; the known ones: {', '.join(sorted(intents))}"
        )
    blocks = _read_blocks(target)
    seen = {_normal(t) for t in existing} | {_normal(t) for ts in blocks.values() for t in ts}
    added: Counter = Counter()
    duplicates = 0
    for text, label in labelled:
        line = _example_line(text)
        if not label or not line:
            continue
        if _normal(line) in seen:
            duplicates += 1
            continue
        seen.add(_normal(line))
        blocks.setdefault(label, []).append(line)
        added[label] += 1
    if added:
        _write_blocks(target, blocks)
    return {
        "added": sum(added.values()),
        "by_intent": dict(sorted(added.items())),
        "already_known": duplicates,
        "unlabelled": sum(1 for _, label in labelled if not label),
        "file": str(target),
    }


def _read_blocks(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    try:
        nlu = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []
        return {
            block["intent"]: [
                line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")
            ]
            for block in nlu
            if "intent" in block
        }
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise ReviewError(f"{path} is not an NLU file this command wrote ({exc})") from exc


def _write_blocks(path: Path, blocks: Mapping[str, list[str]]) -> None:
    lines = [
        "# Customers' messages the assistant did not understand, labelled by staff",
        "# (`shopbot nlu review`, then `shopbot nlu learn`).",
        'version: "3.1"',
        "nlu:",
    ]
    for intent in sorted(blocks):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in blocks[intent]]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)  # all or nothing
