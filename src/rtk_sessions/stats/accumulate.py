"""TEMPORARY shim (replaced by the real accumulator): keeps rows, recomputes on block()."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .aggregate import cumulative
from .types import QualityThresholds

__all__ = ["KindAccumulator"]


class KindAccumulator:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.rows: list[dict[str, Any]] = []
        self.t = QualityThresholds()

    def add(self, row: Mapping[str, Any], thresholds: QualityThresholds) -> None:
        self.rows.append(dict(row))
        self.t = thresholds

    def merge(self, other: KindAccumulator) -> None:
        self.rows.extend(other.rows)

    def block(self) -> dict[str, Any]:
        return cumulative(self.kind, self.rows, self.t)

    def to_state(self) -> dict[str, Any]:
        return {"rows": self.rows}

    @classmethod
    def from_state(cls, kind: str, state: Mapping[str, Any]) -> KindAccumulator:
        acc = cls(kind)
        acc.rows = list(state.get("rows") or [])
        return acc
