"""The import report: what a file held, what was kept and dropped and why (one reason per row)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shop.errors import ImportFailed

# progress(stage, done, total): called now and then by long imports; total is 0 when unknown.
Progress = Callable[[str, int, int], None]


# Why rows were dropped. Keys are stable (scripts rely on them); each dropped row is counted once,
# under the first reason that applies, in this order.
TRANSACTION_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "cancelled": "cancellation (invoice starts with C)",
    "bad_invoice": "invoice number missing or not 6 digits",
    "bad_stock_code": "stock code missing or longer than 32 characters",
    "non_product_code": "not a product (postage, fees, adjustments, vouchers…)",
    "bad_quantity": "quantity missing, not a number or not whole",
    "non_positive_quantity": "quantity zero or negative",
    "bad_price": "price missing or not a number",
    "non_positive_price": "price zero or negative",
    "missing_customer_id": "customer id missing",
    "bad_customer_id": "customer id malformed",
    "bad_date": "date missing, unreadable or implausible",
    "outlier": "outlier (over 10,000 units or line value over 50,000)",
    "duplicate_row": "exact duplicate of an earlier row",
    "order_number_taken": "order number already used by another source",
    "order_already_imported": "order already imported from this file",
}


RATING_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "bad_user_id": "user id missing or malformed",
    "bad_item_id": "item id missing or malformed",
    "bad_rating": "rating missing or not a number",
    "rating_out_of_range": "rating outside 1–5 (0.5 only as the half-star scale's lowest)",
    "bad_timestamp": "timestamp missing, unreadable or implausible",
    "duplicate_rating": "same user and item rated again later in the file",
}


INVENTORY_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "bad_sku": "SKU missing or malformed (blanks inside, over 32 characters)",
    "bad_number": "on hand missing, or a figure not a whole number (or absurdly large)",
    "negative_number": "a stock figure or lead time below zero",
    "unknown_sku": "no product with this SKU (products come from imported sales or ratings)",
    "duplicate_sku": "same SKU again later in the file (the last row wins)",
}


REASONS = {
    "transactions": TRANSACTION_REASONS,
    "ratings": RATING_REASONS,
    "inventory": INVENTORY_REASONS,
}


CREATED_KEYS = ("customers", "products", "inventory", "orders", "order_items", "ratings")


@dataclass
class ImportReport:
    """What an import read, kept, dropped (and why) and created; ``to_dict()`` and ``format()``."""

    kind: str
    filename: str
    sha256: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CREATED_KEYS, 0))
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    skipped_orders: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    previous: dict[str, Any] | None = None
    imported_at: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Every known reason is present (0 when nothing was dropped for it): stable keys.
        self.dropped = {**dict.fromkeys(REASONS.get(self.kind, {}), 0), **self.dropped}

    @property
    def rows_dropped(self) -> int:
        """Rows dropped for any reason."""
        return sum(self.dropped.values())

    def drop(self, reason: str, count: int) -> None:
        if reason not in REASONS.get(self.kind, {reason: ""}):
            raise KeyError(f"unknown drop reason {reason!r}")
        self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def nothing_usable(self) -> ImportFailed:
        """The error for a file none of whose rows survived cleaning (with the reasons)."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v)
        return ImportFailed(
            f"{self.filename}: none of the {self.rows_read:,} rows is usable ({reasons}); "
            "nothing was imported"
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "kind": self.kind,
            "filename": self.filename,
            "sha256": self.sha256,
            "already_imported": self.already_imported,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(self.dropped),
            "created": dict(self.created),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped_orders": dict(self.skipped_orders),
            "imported_at": self.imported_at,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "previous": self.previous,
        }

    def format(self) -> str:
        """A readable, aligned text table of the report (reasons with no drops are left out)."""
        title = f"Import of {self.kind} from {self.filename}"
        if self.sha256:
            title += f" (sha256 {self.sha256[:12]})"
        lines = [title]
        if self.already_imported:
            when = (self.previous or {}).get("imported_at") or "earlier"
            lines.append(f"  already imported ({when} UTC): nothing changed. Earlier report:")
            if self.previous:
                earlier = ImportReport.from_dict(self.previous)
                lines += ["  " + line for line in earlier.format().splitlines()[1:]]
            return "\n".join(lines)
        labels = REASONS.get(self.kind, {})
        rows: list[tuple[str, str, str]] = [
            ("rows read", f"{self.rows_read:,}", ""),
            ("rows kept", f"{self.rows_kept:,}", ""),
            ("rows dropped", f"{self.rows_dropped:,}", ""),
        ]
        rows += [
            (f"  {reason}", f"{count:,}", labels.get(reason, ""))
            for reason, count in self.dropped.items()
            if count
        ]
        hidden = {
            "transactions": ("ratings",),
            "ratings": ("orders", "order_items"),
            "inventory": ("customers", "products", "orders", "order_items", "ratings"),
        }
        for group, values in (
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("orders skipped", self.skipped_orders),
        ):
            shown = {
                k: v
                for k, v in values.items()
                if k not in hidden.get(self.kind, ()) and (v or group == "created")
            }
            if shown:
                rows.append((group, "", ""))
                rows += [
                    (f"  {k.replace('_', ' ')}", f"{v:,}", labels.get(k, ""))
                    for k, v in shown.items()
                ]
        rows.append(("time", f"{self.seconds:.1f} s", ""))
        width = max(len(label) for label, _, _ in rows)
        vwidth = max(len(value) for _, value, _ in rows)
        lines += [
            f"  {label:<{width}}  {value:>{vwidth}}  {note}".rstrip() for label, value, note in rows
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        """A report rebuilt from ``to_dict()`` output (e.g. the one stored in import_batches)."""
        known = {
            k: data[k]
            for k in (
                "kind",
                "filename",
                "sha256",
                "rows_read",
                "rows_kept",
                "dropped",
                "created",
                "updated",
                "unchanged",
                "skipped_orders",
                "already_imported",
                "imported_at",
                "seconds",
                "notes",
            )
            if k in data
        }
        known.setdefault("kind", "transactions")
        known.setdefault("filename", "?")
        created = dict.fromkeys(CREATED_KEYS, 0)
        created.update(known.get("created") or {})
        known["created"] = created
        return cls(**known)


def progress_noop(_stage: str, _done: int, _total: int) -> None:
    """A progress callback that does nothing."""
