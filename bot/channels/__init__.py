"""Rasa input channels: customers (REST, socket.io, storefront page) and staff (Slack, console).

The Rasa server imports this package when it reads credentials.yml, which makes it the place to
install shopbot's fix for Rasa's per-action-call cost (bot/rasa_speedups.py)."""

from bot.rasa_speedups import install as _install_rasa_speedups

_install_rasa_speedups()
