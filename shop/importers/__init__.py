"""Importers of real data into the store: sales transactions (Online Retail), ratings, stock.

Each importer cleans the file with vectorised pandas code, counts every dropped row by reason,
writes the clean part in one transaction with bulk inserts, and records the file in
``import_batches`` so importing it again changes nothing.
"""

from shop.importers.common import REASONS, ImportReport
from shop.importers.inventory import import_inventory
from shop.importers.ratings import import_ratings
from shop.importers.transactions import categorise, import_transactions

__all__ = [
    "REASONS",
    "ImportReport",
    "categorise",
    "import_inventory",
    "import_ratings",
    "import_transactions",
]
