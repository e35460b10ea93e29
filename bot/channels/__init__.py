"""Rasa input channels: customers (REST, socket.io, storefront page) and staff (Slack, console)."""
