"""A/B experiment statistics: planned sample size, SRM check, tests with intervals on the lift,
Holm across metrics, and the report with its explicit state."""
