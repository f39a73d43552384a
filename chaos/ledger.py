"""The ledger: what the harness attempted, what intake accepted, what the subscriber received.

Keyed by the harness's own story key (one key per story; a story submitted several times keeps
its key), so "a subscriber sees each story once" is checked per story:

- lost: a story intake accepted (at least one 202) that the subscriber never received;
- duplicated: a story the subscriber received in more than one stream entry;
- unexpected: an entry for an article id intake never answered 202 with.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LedgerFigures:
    attempted: int
    accepted: int
    delivered: int
    lost: int
    duplicated: int
    unexpected: int
    answers: dict[int, int]

    @property
    def designed_answers_only(self) -> bool:
        """Only 202, 429 and 503 (and 0: no answer, e.g. intake being restarted on purpose)."""
        return set(self.answers) <= {0, 202, 429, 503}


@dataclass
class Ledger:
    attempts: Counter[str] = field(default_factory=Counter)
    answers: Counter[int] = field(default_factory=Counter)
    story_of: dict[str, str] = field(default_factory=dict)  # article id -> story key
    accepted: set[str] = field(default_factory=set)  # story keys
    entries: dict[str, set[str]] = field(default_factory=dict)  # article id -> subscriber entry ids
    injected: set[str] = field(default_factory=set)  # article ids the harness published past intake
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attempted(self, key: str) -> None:
        with self._lock:
            self.attempts[key] += 1

    def answered(self, key: str, status: int, article_id: str | None = None) -> None:
        with self._lock:
            self.answers[status] += 1
            if status == 202 and article_id:
                self.accepted.add(key)
                self.story_of[article_id] = key

    def received(self, article_id: str, entry_id: str) -> None:
        with self._lock:
            self.entries.setdefault(article_id, set()).add(entry_id)

    def delivered_keys(self) -> Counter[str]:
        """Stream entries received per story key (unknown article ids are left out)."""
        with self._lock:
            counts: Counter[str] = Counter()
            for article_id, entry_ids in self.entries.items():
                key = self.story_of.get(article_id)
                if key is not None:
                    counts[key] += len(entry_ids)
            return counts

    def missing(self) -> set[str]:
        delivered = self.delivered_keys()
        with self._lock:
            return {key for key in self.accepted if not delivered[key]}

    def figures(self) -> LedgerFigures:
        delivered = self.delivered_keys()
        with self._lock:
            unexpected = sum(
                len(ids)
                for article_id, ids in self.entries.items()
                if article_id not in self.story_of and article_id not in self.injected
            )
            return LedgerFigures(
                attempted=len(self.attempts),
                accepted=len(self.accepted),
                delivered=len(delivered),
                lost=sum(1 for key in self.accepted if not delivered[key]),
                duplicated=sum(1 for count in delivered.values() if count > 1),
                unexpected=unexpected,
                answers=dict(self.answers),
            )
