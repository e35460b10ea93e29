"""Importers of real data into the store: sales transactions (Online Retail), ratings, stock.

Every importer follows the same shape, each step in its own module:

1. ``files``: fingerprint the file (sha256; ``batches`` stops early when ``import_batches``
   already holds it) and read it in chunks of raw text cells (CSV: encoding and delimiter
   detected; XLSX: every sheet);
2. ``cleaning``: clean it with vectorised pandas code, counting every dropped row under exactly
   one reason of ``report``;
3. ``batches``: write the clean part with bulk Core inserts inside ONE transaction, together with
   the ``import_batches`` row, so a file lands completely or not at all.
"""

from shop.importers.inventory import import_inventory
from shop.importers.ratings import import_ratings
from shop.importers.report import REASONS, ImportReport
from shop.importers.transactions import categorise, import_transactions

__all__ = [
    "REASONS",
    "ImportReport",
    "categorise",
    "import_inventory",
    "import_ratings",
    "import_transactions",
]
