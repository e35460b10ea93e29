"""The shop's domain and data: store, orders, returns, tickets, catalogue, importers, demo shop.

No Rasa and no machine learning here (checked by import-linter in ``make lint``)."""
