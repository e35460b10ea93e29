"""Where the training data's regexes (order numbers, SKUs, e-mails, RMA numbers) match a text:
one home for the rule both the intent model and the entity tagger read them by."""

from __future__ import annotations

import re

# No identifier is longer than this without a space (an e-mail address is at most 254
# characters). Longer runs are not searched: a pattern such as the e-mail one backtracks over a
# whole run from every position in it, so 5,000 characters without a space cost ~160 ms a
# pattern, and the same run blanked out well under a millisecond.
LONGEST_RUN = 256
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")


class RegexMatches:
    """The named patterns, compiled case-insensitively; calling it gives the matches in a text,
    in order, as (start, end, name): the longest first where two overlap ("RMA-104233" is an RMA
    number, not an order number), and no empty ones; nothing inside a run of more than
    ``LONGEST_RUN`` characters without a space."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self._compiled = [(name, re.compile(p, re.IGNORECASE)) for name, p in patterns.items()]

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        searched = _LONG_RUN.sub(lambda m: " " * len(m.group()), text)  # same positions
        found = sorted(
            (m.start(), -(m.end() - m.start()), m.end(), name)
            for name, rx in self._compiled
            for m in rx.finditer(searched)
            if m.end() > m.start()
        )
        out: list[tuple[int, int, str]] = []
        pos = 0
        for start, _, end, name in found:
            if start >= pos:
                out.append((start, end, name))
                pos = end
        return out
