"""A/B experiments in the store: definitions, deterministic assignment, exposures."""
