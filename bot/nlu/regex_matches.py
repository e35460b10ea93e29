"""Where the training data's regexes (order numbers, SKUs, e-mails, RMA numbers) match a text:
one home for the rule both the intent model and the entity tagger read them by."""

from __future__ import annotations

import re


class RegexMatches:
    """The named patterns, compiled case-insensitively; calling it gives the matches in a text,
    in order, as (start, end, name): the longest first where two overlap ("RMA-104233" is an RMA
    number, not an order number), and no empty ones."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self._compiled = [(name, re.compile(p, re.IGNORECASE)) for name, p in patterns.items()]

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        found = sorted(
            (m.start(), -(m.end() - m.start()), m.end(), name)
            for name, rx in self._compiled
            for m in rx.finditer(text)
            if m.end() > m.start()
        )
        out: list[tuple[int, int, str]] = []
        pos = 0
        for start, _, end, name in found:
            if start >= pos:
                out.append((start, end, name))
                pos = end
        return out
