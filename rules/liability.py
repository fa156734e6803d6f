"""Liability de-duplication on the box: one `per_day` liability per vehicle, policy and local day.

The engine decides each passage on its own (pure); a vehicle that passes three Area-1 cameras in one evening is
three violating passages but, under a `per_day` policy, one liability. Two layers make that hold:

1. the violation id of a per-day liability is uuid5 over (plate, policy, local date) (`sinks.schema.violation_id`),
   so every box and every replay names it the same and the data centre de-duplicates by id;
2. this ledger stops the box publishing the repeats at all (counted as `violations_deduplicated`).

`per_entry` liabilities are never merged: each entry is its own window. The ledger is bounded: it keeps only the
days within `keep_days` of the newest event day it has seen (event time, never the wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from rules.types import Decision, Outcome, Passage, ReadStatus


@dataclass
class LiabilityLedger:
    keep_days: int = 2
    _charged: dict[date, set[tuple[str, str]]] = field(default_factory=dict, repr=False)

    def first_charge(self, passage: Passage, decision: Decision) -> bool:
        """True when this decision opens a liability not charged before (always True for per_entry)."""
        if decision.outcome is not Outcome.VIOLATION or decision.liability != "per_day":
            return True
        if passage.plate.status is not ReadStatus.READ or decision.policy_id is None:
            return True
        day = date.fromisoformat(decision.liability_window)
        key = (passage.plate.text, decision.policy_id)
        seen = self._charged.setdefault(day, set())
        if key in seen:
            return False
        seen.add(key)
        self._evict(day)
        return True

    def _evict(self, newest: date) -> None:
        latest = max(newest, *self._charged)
        for day in [d for d in self._charged if d < latest - timedelta(days=self.keep_days)]:
            del self._charged[day]

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._charged.values())
