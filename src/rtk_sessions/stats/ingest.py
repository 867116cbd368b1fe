"""The ingest fast path: one getStats() report -> sample rows, candidate pairs and the new cursor.

``ingest_report`` returns exactly what the four public steps return (``normalize_report``, then
``sample_rows``, ``candidate_pairs`` and ``compact_report`` of the normalized report), with only
the work those outputs need: ``ReportIndex`` normalizes an object when something looks at it,
instead of copying every certificate, codec and ICE candidate of the report, and the rows,
pairs and cursor share its per-report lookups (by SSRC, the selected pairs, their RTTs).
tests/stats/test_fast_path.py compares both paths on every real recording and on random reports;
bench/stats_path.py measures them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .compact import compact_indexed
from .normalize import ReportIndex
from .pairs import candidate_pairs_indexed, selected_pairs_indexed
from .rows import sample_rows_indexed
from .types import QualityThresholds, SampleRow, StreamLabel

__all__ = ["ingest_indexed", "ingest_report"]


def ingest_report(
    previous: Any,
    current: Any,
    *,
    namespace: str,
    transport: str | None = None,
    labels: Sequence[StreamLabel] = (),
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> tuple[list[SampleRow], list[tuple[str, str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Everything one ``peer.stats`` event yields, in one pass over its report.

    previous: the connection's cursor (what this function or ``compact_report`` returned for the
    previous report, as stored), or ``None`` for the first report; any shape ``normalize_report``
    accepts works. current: the event's getStats() report, any shape ``normalize_report`` accepts
    (never mutated). namespace, transport, labels, thresholds: as for ``sample_rows`` and
    ``candidate_pairs``.

    Returns ``(rows, pairs, cursor)``, equal to, with ``report = normalize_report(current)``::

        (sample_rows(previous, report, namespace=namespace, transport=transport, labels=labels,
                     thresholds=thresholds),
         candidate_pairs(report, transport=transport),
         compact_report(report))

    (same values in the same order). ``cursor`` and the pair entries are new dicts; like
    ``compact_report``, the cursor may share nested values (e.g. ``qualityLimitationDurations``)
    with ``current``. Never raises.
    """
    rows, pairs, index = ingest_indexed(
        previous,
        current,
        namespace=namespace,
        transport=transport,
        labels=labels,
        thresholds=thresholds,
    )
    return rows, pairs, compact_indexed(index)


def ingest_indexed(
    previous: Any,
    current: Any,
    *,
    namespace: str,
    transport: str | None = None,
    labels: Sequence[StreamLabel] = (),
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
    pair_entries: bool = True,
) -> tuple[list[SampleRow], list[tuple[str, str, dict[str, Any]]], ReportIndex]:
    """``ingest_report`` for a connection's run of reports: ``(rows, pairs, index)``.

    previous: what ``ingest_report`` accepts, or the ``ReportIndex`` this function returned for
    the connection's previous report. Returns the rows and pairs of ``ingest_report`` and, instead
    of the cursor, the ``ReportIndex`` of ``current``: pass it as the next report's
    ``previous``, and make the cursor (``compact_indexed(index)``) only when it is stored. A
    batch of a connection's reports is then indexed once per report and compacted once, instead
    of compacting and re-indexing every cursor.

    The rows equal ``ingest_report``'s with the compacted cursor: the deltas read only members
    that the cursor keeps (``compact._KEEP_FIELDS``), of the objects it keeps
    (tests/stats/test_fast_path.py ``test_index_chain_equals_cursor_chain``). Never raises.

    pair_entries: False leaves each pair's entry an empty dict (the roles and pair ids are those
    of ``ingest_report``): for a caller that keeps only some reports' entries, made later with
    ``candidate_pairs_indexed(index, transport=transport)``.
    """
    index = ReportIndex(current)
    if previous is None or previous.__class__ is ReportIndex:
        before = previous
    else:
        before = ReportIndex(previous)
    rows = sample_rows_indexed(
        before, index, namespace=namespace, labels=labels, thresholds=thresholds
    )
    if pair_entries:
        return rows, candidate_pairs_indexed(index, transport=transport), index
    return rows, [(role, sid, {}) for role, sid in selected_pairs_indexed(index, transport)], index
