"""Found by the fuzzer (tests/reliability/test_fuzz.py): ``per_page`` or ``page_no`` beyond 64 bits
(``?per_page=1e100``) gave a 500 on PostgreSQL ("bigint out of range" in LIMIT/OFFSET). Both are
now bounded by ``contract.params.MAX_PAGE_COUNT``: above it, 400 with the envelope, on every list
route and both databases. The same for the bounds of ``participants`` (32 bits)."""

from __future__ import annotations

import httpx

from tests.api.test_errors import assert_envelope
from tests.conftest import LiveServer
from tests.reliability.world import build_world

MAX_PAGE_COUNT = 2**31 - 1  # rtk_sessions.contract.params.MAX_PAGE_COUNT, documented there
TOO_LARGE = [
    {"per_page": "1e100"},
    {"per_page": str(2**63)},
    {"page_no": "1e30"},
    {"page_no": str(MAX_PAGE_COUNT + 1)},
    {"page_no": str(MAX_PAGE_COUNT), "per_page": str(MAX_PAGE_COUNT + 1)},
]


def test_page_counts_beyond_the_bound_are_400_on_every_list(quiet_server: LiveServer) -> None:
    world = build_world(quiet_server, "paging")
    app = f"{world.kit}/{world.tenant.app_id}"
    lists = [
        f"{world.kit}/apps",
        f"{app}/sessions",
        f"{app}/sessions/{world.session_id}/participants",
        f"{app}/meetings",
        f"{app}/meetings/{world.meeting_id}/participants",
        f"{app}/presets",
    ]
    with httpx.Client(headers=world.headers, timeout=60) as http:
        for url in lists:
            for params in TOO_LARGE:
                assert_envelope(http.get(url, params=params), 400, "must be at most")
            # the bound itself is a page like any other (empty, far beyond the data)
            edge = http.get(url, params={"page_no": MAX_PAGE_COUNT, "per_page": MAX_PAGE_COUNT})
            assert edge.status_code == 200, (url, edge.text)


def test_participants_bounds_beyond_32_bits_are_400(quiet_server: LiveServer) -> None:
    """Found by the fuzzer on PostgreSQL (``participants=1:60640749052``: "integer out of range"
    on the 32-bit ``max_concurrent_participants``, a 500; on SQLite a bound beyond 64 bits
    overflowed the driver). Bounds above 2**31 - 1 are refused with the envelope."""
    world = build_world(quiet_server, "participants")
    url = f"{world.kit}/{world.tenant.app_id}/sessions"
    with httpx.Client(headers=world.headers, timeout=60) as http:
        for value in ("1:60640749052", str(2**31), ":" + "9" * 30):
            response = http.get(url, params={"participants": value})
            assert_envelope(response, 400, "must be at most")
        edge = http.get(url, params={"participants": f"0:{MAX_PAGE_COUNT}"})
        assert edge.status_code == 200, edge.text
        assert len(edge.json()["data"]["sessions"]) >= 1
