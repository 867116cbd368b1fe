"""rtk_sessions.stats: raw W3C WebRTC getStats() reports -> RealtimeKit peer-report quality.

Pure and stdlib-only: no I/O, no clock reads, no third-party imports. Definitions, units and
sources: docs/quality-metrics.md. The domain layer calls exactly the names in ``__all__``.
"""

from .accumulate import KindAccumulator
from .aggregate import cumulative
from .compact import compact_indexed, compact_report
from .ingest import ingest_indexed, ingest_report
from .issues import ISSUE_TYPES, IssueThresholds, detect_issues
from .normalize import ReportIndex, normalize_report
from .pairs import candidate_pairs, candidate_pairs_indexed
from .report import build_quality
from .rows import sample_rows
from .types import KINDS, QualityThresholds, SampleRow, StreamLabel

__all__ = [
    "ISSUE_TYPES",
    "KINDS",
    "IssueThresholds",
    "KindAccumulator",
    "QualityThresholds",
    "ReportIndex",
    "SampleRow",
    "StreamLabel",
    "build_quality",
    "candidate_pairs",
    "candidate_pairs_indexed",
    "compact_indexed",
    "compact_report",
    "cumulative",
    "detect_issues",
    "ingest_indexed",
    "ingest_report",
    "normalize_report",
    "sample_rows",
]
