"""The ``*_cumulative`` blocks of the peer report (quality-metrics.md §4; decisions Q5, Q6, Q8).

An "event" is one sample row; all rows of a kind (all its streams) are pooled. Every number is
rounded to 4 dp. Rows may be this package's rows (with ``_`` internals) or public rows such as the
reference report's; every internal has a fallback computed from the public fields. The math is in
``accumulate.KindAccumulator``: ``cumulative`` feeds it every row and reads its block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .accumulate import KindAccumulator, _interpolate
from .types import KINDS, QualityThresholds, SampleRow

__all__ = ["cumulative", "percentile"]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks (Q6).

    Same as numpy's default (``method="linear"``): position ``(n − 1)·p/100`` in the sorted values.
    ``values`` must be non-empty.
    """
    ordered = sorted(values)
    return _interpolate(ordered.__getitem__, len(ordered), p)


def cumulative(
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> dict[str, Any]:
    """The ``{kind}_cumulative`` block (docs/decisions.md#peer-report) of a kind's sample rows.

    kind: one of ``KINDS`` (anything else gives ``{}``). rows: the kind's rows (mappings with the
    row keys of the peer report, optionally ``_`` internals; ``SampleRow`` objects are accepted
    too; anything else is ignored). No rows gives ``{}`` (Q9).

    - ``quality_mos``: Dist of ``mos_quality`` (linear-interpolation percentiles, Q6);
    - ``packet_loss``: LossDist of the row loss % (Q5, Q7);
    - producers ``rtt``: LatencyDist of rtt ms (absent = 0, counted, as the reference report does);
    - consumers ``jitter_buffer_delay``: LatencyDist of Δjbd/Δemitted ms (uncomputable = 0);
    - video: ``frame_per_second`` and ``frame_width`` Dists over the rows that have the field,
      ``key_frames_{encoded,decoded}_fraction``, ``issues`` (Q8), and producers
      ``high_negative_feedback_fraction`` (Q8).
    A Dist with no values is omitted. Fractions are of all rows of the kind. Averages are the
    exact sum over the row count, correctly rounded, then rounded to 4 dp.

    Same as ``KindAccumulator(kind)`` fed every row in order, then ``block()``.
    """
    if not isinstance(kind, str) or kind not in KINDS:
        return {}
    if not isinstance(thresholds, QualityThresholds):
        thresholds = QualityThresholds()
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        return {}
    acc = KindAccumulator(kind)
    for row in rows:
        values = row.values if isinstance(row, SampleRow) else row
        if isinstance(values, Mapping):
            acc.add(values, thresholds)
    return acc.block()
