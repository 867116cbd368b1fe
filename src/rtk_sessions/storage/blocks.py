"""Byte formats of the sample store: compressed row blocks and per-connection state. Pure, no I/O.

A block holds the public JSON objects of a run of sample rows (``stats.SampleRow.values`` without
the ``_`` internals), joined by commas and compressed with zlib (RFC 1950): a peer report splices
the decompressed bytes of its blocks between ``[`` and ``]`` without parsing them. Sample rows of
real calls compress to about 20 bytes each in blocks of a hundred (measured on the recordings in
``tests/fixtures/real-stats``), against about 300 bytes of JSON.

A state is one JSON object (orjson) compressed with zlib at level 1; its shape belongs to
``rtk_sessions.domain.samples``.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

__all__ = ["decode_rows", "decode_state", "encode_rows", "encode_state", "join_rows"]

_ROWS_LEVEL = 6  # blocks are written once and read many times: spend a little more CPU on size
_STATE_LEVEL = 1  # the state is rewritten by every batch: the cheapest level that still shrinks it


def encode_rows(rows: list[bytes]) -> bytes:
    """One block's bytes from the rows' JSON objects (each ``orjson.dumps`` of a public row)."""
    return zlib.compress(b",".join(rows), _ROWS_LEVEL)


def decode_rows(block: bytes) -> bytes:
    """The comma-joined JSON objects of a block (``encode_rows`` inverted)."""
    return zlib.decompress(block)


def join_rows(fragments: list[bytes]) -> bytes:
    """A JSON array of the rows of several decoded blocks, in the given order."""
    parts: list[bytes] = []
    for fragment in fragments:
        if fragment:
            parts += (b",", fragment)
    if not parts:
        return b"[]"
    parts[0] = b"["  # one copy of everything, in the join below
    parts.append(b"]")
    return b"".join(parts)


def encode_state(state: dict[str, Any]) -> bytes:
    """Compressed JSON of a state object (keys must be strings)."""
    return zlib.compress(orjson.dumps(state), _STATE_LEVEL)


def decode_state(data: bytes) -> dict[str, Any]:
    """``encode_state`` inverted. raises zlib.error, orjson.JSONDecodeError or ValueError."""
    value = orjson.loads(zlib.decompress(data))
    if not isinstance(value, dict):
        raise ValueError("state is not a JSON object")
    return value
