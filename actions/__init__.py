"""rasa-sdk actions: thin adapters between Rasa and the shop (``shop/``) and its analytics
(``analytics/``). Served by ``python -m bot.server.action_server``.

Every action opens its own database session, runs blocking work in a thread so one slow query
never stalls other conversations, and answers with a polite apology instead of silence when
something fails.
"""
