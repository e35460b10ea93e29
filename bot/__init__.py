"""Glue between the chat channels and the shop: identity and authorisation, channels, web page."""
