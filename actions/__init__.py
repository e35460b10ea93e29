"""rasa-sdk actions: thin adapters between Rasa and the shop's services in ``analytics/``.

Started with ``rasa run actions --actions actions`` (listen on 127.0.0.1: the webhook has no
authentication of its own). Every action opens its own database session, runs blocking work in a
thread so one slow query never stalls other conversations, and answers with a polite apology
instead of silence when something fails.
"""
