"""shopbot's business logic and store. Nothing in this package imports Rasa."""
