"""Quality evaluations against the team's reference data (``../shared/data``); run with ``make eval``."""
