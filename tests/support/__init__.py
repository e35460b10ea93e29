"""Helpers shared by the tests: running servers, the Rasa model, stand-ins and test data."""
