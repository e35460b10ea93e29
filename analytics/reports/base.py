"""A channel-neutral staff report: title, summary, key figures, a table, notes and a chart.

Channels render it (Slack Block Kit in :mod:`analytics.reports.slack`; plain text here for the
console and as Slack's fallback text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shop.text import money as _money


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    # "l" or "r" per column (numbers right-aligned)
    align: list[str] | None = None

    def to_text(self) -> str:
        """The table as aligned monospace text."""
        cols = len(self.headers)
        align = self.align or ["l"] * cols
        cells = [self.headers] + [[str(c) for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(cols)]

        def fmt(row):
            return "  ".join(
                c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)
            ).rstrip()

        lines = [fmt(self.headers), "  ".join("-" * w for w in widths)]
        lines += [fmt(r) for r in cells[1:]]
        return "\n".join(lines)


@dataclass
class StaffReport:
    title: str
    summary: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    table: Table | None = None
    notes: list[str] = field(default_factory=list)
    chart_png: bytes | None = None
    chart_name: str = "chart.png"
    data: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        """Plain text: readable in a terminal and as Slack's notification fallback."""
        parts = [self.title]
        if self.summary:
            parts.append(self.summary)
        if self.fields:
            width = max(len(k) for k, _ in self.fields)
            parts.append("\n".join(f"{k.ljust(width)}  {v}" for k, v in self.fields))
        if self.table is not None and self.table.rows:
            parts.append(self.table.to_text())
        parts += self.notes
        return "\n\n".join(parts)


def money(x: float | None) -> str:
    """An amount for a report ("12,345.60"), "–" when unknown."""
    return "–" if x is None else _money(x, grouped=True)


def number(x: float | None, digits: int = 0) -> str:
    """A figure for a report ("1,234"), "–" when unknown."""
    return "–" if x is None else f"{x:,.{digits}f}"
