"""The reliability suite's figures (requests fuzzed, routes × credentials tried, kills survived,
events lost), collected while the tests run and printed at the end of the session by
``tests/conftest.py``'s ``pytest_terminal_summary``, so that CI logs show them without ``-s``."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_lines: list[str] = []


def report(line: str) -> None:
    """Add one line (``"<suite> [<database>]: <figures>"``) to the end-of-session summary."""
    with _lock:
        _lines.append(line)


def lines() -> list[str]:
    """The lines reported so far, in order."""
    with _lock:
        return list(_lines)
