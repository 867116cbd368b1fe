"""Checks of a REAL chrome://webrtc-internals dump, shared by the fixture test
(tests/importers/test_import_webrtc_internals_real.py) and the live Chromium test
(tests/live/test_internals_dump.py)."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rtk_sessions.importers import load_recording
from rtk_sessions.importers import webrtc_internals as wi
from rtk_sessions.importers.model import RecordedClient


def read_dump(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    doc: dict[str, Any] = json.loads(raw)
    return doc


def format_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """What the raw file looks like; asserts the quirks the importer must handle."""
    pcs = doc["PeerConnections"]
    assert len(pcs) == 2, list(pcs)
    facts: dict[str, Any] = {"series": 0, "unequal_objects": [], "computed": 0, "types": set()}
    for pc in pcs.values():
        lengths: dict[str, dict[str, int]] = defaultdict(dict)
        for key, s in pc["stats"].items():
            facts["series"] += 1
            assert isinstance(s["values"], str), key  # values are JSON *strings*
            values = json.loads(s["values"])
            assert isinstance(values, list) and values, key
            assert isinstance(s.get("statsType"), str), key  # statsType present (new Chrome)
            facts["types"].add(s["statsType"])
            if "-[" in key:
                facts["computed"] += 1
                continue
            sid, _, fld = key.rpartition("-")
            lengths[sid][fld] = len(values)
        for sid, by_field in lengths.items():
            if len(set(by_field.values())) > 1:
                facts["unequal_objects"].append(sid)
        assert all(isinstance(u["timestamp"], int | float) for u in pc["updateLog"])
    assert {"inbound-rtp", "outbound-rtp", "candidate-pair", "remote-inbound-rtp"} <= facts["types"]
    return facts


def strip_stats_type(doc: dict[str, Any], *, type_series: bool = False) -> dict[str, Any]:
    """The dump as old Chrome wrote it: no statsType (and, optionally, no '<id>-type' series,
    so the type must come from the id)."""
    old = copy.deepcopy(doc)
    for pc in old["PeerConnections"].values():
        for key in list(pc["stats"]):
            pc["stats"][key].pop("statsType", None)
            if type_series and key.endswith("-type"):
                del pc["stats"][key]
    return old


def snapshots_by_pc(client: RecordedClient) -> dict[str, list[Any]]:
    by: dict[str, list[Any]] = defaultdict(list)
    for s in client.stats:
        by[s.connection_id].append(s)
    return by


def check_import(path: Path, *, call: dict[str, Any] | None, duration_s: float) -> RecordedClient:
    """Load with the real loader and check snapshots, types, span, events. Returns the client."""
    rec = load_recording(path)
    assert rec.format == "webrtc-internals"
    (client,) = rec.clients
    by = snapshots_by_pc(client)
    assert len(by) == 2
    for pc, snaps in by.items():
        times = [s.timestamp_ms for s in snaps]
        # one poll a second for the whole call: no phantom or merged polls
        assert duration_s - 2 <= len(snaps) <= duration_s + 1, (pc, len(snaps))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(800 <= g <= 1600 for g in gaps), (pc, gaps)
        assert client.join_ms <= times[0] and times[-1] <= client.leave_ms
        for s in snaps:
            for o in s.report.values():
                assert o["timestamp"] <= s.timestamp_ms + 1, (pc, o["id"])
                assert not any(k.startswith("[") for k in o), o["id"]
        types = {o["type"] for o in snaps[-1].report.values()}
        assert "candidate-pair" in types and "transport" in types
    kinds = {o["type"] for s in client.stats for o in s.report.values()}
    assert {"inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "candidate-pair"} <= kinds
    last = {o["id"]: o for s in client.stats[-4:] for o in s.report.values()}
    for o in last.values():
        if o["type"] in ("inbound-rtp", "outbound-rtp"):
            assert isinstance(o["mid"], str), o  # stored as a number by webrtc-internals
            assert o["packetsReceived" if o["type"] == "inbound-rtp" else "packetsSent"] > 0
    # span = the call: first update (addTrack, ~gUM later than the page's start) to the close
    span_s = (client.leave_ms - client.join_ms) / 1000
    assert abs(span_s - duration_s) < 1.5, span_s
    if call is not None:
        assert call["started_ms"] <= client.join_ms <= call["connected_ms"]
        assert abs(client.leave_ms - call["closed_ms"]) < 100
    names = [e[0] for e in client.events]
    assert names.count("peer_connection_closed") == 2
    assert ("connection_state", "connected") in {(e[0], e[2].get("state")) for e in client.events}
    return client


def check_old_variants(path: Path, client: RecordedClient) -> None:
    doc = read_dump(path)
    base = [(s.connection_id, s.timestamp_ms, s.report) for s in client.stats]
    for type_series in (False, True):
        (old,) = wi.parse(strip_stats_type(doc, type_series=type_series), client.name)
        assert [(s.connection_id, s.timestamp_ms, s.report) for s in old.stats] == base, (
            f"old dump (type series kept: {not type_series}) imports differently"
        )


def gapped_series(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(pc, statsId, field) whose series skips polls in the middle: fewer points than the
    object's own timestamp series has between the field's startTime and endTime. Nothing in a
    dump says which polls it skipped, so its middle points cannot be placed exactly."""
    out = set()
    for pc_key, pc in doc["PeerConnections"].items():
        st = pc["stats"]
        for key, s in st.items():
            if "-[" in key or key.endswith("-timestamp"):
                continue
            sid, _, fld = key.rpartition("-")
            ts = st.get(f"{sid}-timestamp")
            if not ts:
                continue
            own = json.loads(ts["values"])
            start, end = (wi._iso_ms(s["startTime"]), wi._iso_ms(s["endTime"]))
            j0 = next(j for j, t in enumerate(own) if abs(t - start) < 1.5)
            j1 = max(j for j, t in enumerate(own) if abs(t - end) < 1.5)
            if j1 - j0 + 1 > len(json.loads(s["values"])):
                out.add((pc_key, sid, fld))
    return out


def compare_with_rtcstats(
    internals_client: RecordedClient, rtcstats_path: Path, gapped: set[Any]
) -> int:
    """The page's 'rtcstats dump' holds the same polls as full getStats() reports: every value
    rebuilt from the series must equal it, except the middle points of ``gapped`` series.
    Returns the number of values compared."""
    (truth,) = load_recording(rtcstats_path).clients
    ours = {(s.connection_id, round(s.timestamp_ms, 3)): s.report for s in internals_client.stats}
    theirs = {(s.connection_id, round(s.timestamp_ms, 3)): s.report for s in truth.stats}
    assert set(ours) == set(theirs)
    compared = 0
    for key, report in ours.items():
        for sid, obj in report.items():
            want = theirs[key][sid]
            fields = set(obj) | {f for f in want if not f.startswith("[")}
            for fld in fields:
                if (key[0], sid, fld) in gapped:
                    continue
                assert obj.get(fld) == want.get(fld), (key, sid, fld, obj.get(fld), want.get(fld))
                compared += 1
    return compared
