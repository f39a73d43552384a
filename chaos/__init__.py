"""newswire's fault suite: real processes, a private Redis on loopback, a ledger of every article.

``python -m chaos`` runs every fault and prints the ledger table; ``python -m chaos FAULT ...``
runs some (``python -m chaos --list`` names them).
"""
