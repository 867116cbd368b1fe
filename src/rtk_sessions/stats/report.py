"""The peer report's ``quality`` object (its shape: docs/decisions.md#peer-report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .aggregate import cumulative
from .types import KINDS, QualityThresholds, SampleRow

__all__ = ["build_quality", "public_row"]


def public_row(row: Mapping[str, Any] | SampleRow) -> dict[str, Any]:
    """The API sample row: the row's values without the internal ``_`` keys."""
    values = row.values if isinstance(row, SampleRow) else row
    if not isinstance(values, Mapping):
        return {}
    return {k: v for k, v in values.items() if not (isinstance(k, str) and k.startswith("_"))}


def build_quality(
    rows_by_kind: Mapping[str, Sequence[Mapping[str, Any] | SampleRow]],
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> dict[str, Any]:
    """The full ``quality`` object of a peer report.

    rows_by_kind: ``{kind: rows in display order}`` (mappings or ``SampleRow``); kinds not in
    ``KINDS`` are ignored. Returns all 8 arrays (public fields only, ``_`` keys stripped, in the
    given order) followed by all 8 ``{kind}_cumulative`` blocks; a kind without rows gets ``[]``
    and ``{}`` (Q9).
    """
    if not isinstance(rows_by_kind, Mapping):
        rows_by_kind = {}
    pools: dict[str, list[Any]] = {}
    for kind in KINDS:
        rows = rows_by_kind.get(kind)
        if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
            rows = ()
        pools[kind] = [r for r in rows if isinstance(r, Mapping | SampleRow)]
    quality: dict[str, Any] = {kind: [public_row(r) for r in pools[kind]] for kind in KINDS}
    for kind in KINDS:
        quality[f"{kind}_cumulative"] = cumulative(kind, pools[kind], thresholds)
    return quality
