"""Commands for the people who run newswire: ``status``, ``dlq``, ``logs``."""
