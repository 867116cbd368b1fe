"""KindAccumulator: the cumulative blocks kept as rows arrive, split, merged and persisted.

Oracles: ``cumulative`` (which is the accumulator fed in list order) must be matched exactly;
the pre-accumulator implementation (``legacy_aggregate``, plain float sums over the row list)
within 1e-4, the 4th decimal being allowed to flip at a rounding knife-edge; hand-computed exact
values (``fractions.Fraction``) where the two could disagree.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtk_sessions.stats import (
    KINDS,
    KindAccumulator,
    QualityThresholds,
    SampleRow,
    compact_report,
    cumulative,
    normalize_report,
    sample_rows,
)
from rtk_sessions.stats.accumulate import _from_floats, _to_floats

from . import legacy_aggregate as legacy
from .helpers import realtimekit
from .legacy_aggregate import cumulative as legacy_cumulative
from .rtcstats_dump import FIXTURES, getstats_reports

RECORDINGS = sorted(FIXTURES.glob("*.rtcstats.jsonl"))
T = QualityThresholds()


@cache
def recording_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """``{kind: [row values]}`` of every peer connection of a recording, as the service ingests."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pc, reports in getstats_reports(path).items():
        cursor = None
        for raw in reports:
            current = normalize_report(list(raw.values()))
            for row in sample_rows(cursor, current, namespace=f"peer:{pc}"):
                out.setdefault(row.kind, []).append(row.values)
            cursor = compact_report(current)
    return out


def round_trip(acc: KindAccumulator) -> KindAccumulator:
    """The accumulator as storage keeps it: orjson bytes of ``to_state`` and back."""
    return KindAccumulator.from_state(acc.kind, orjson.loads(orjson.dumps(acc.to_state())))


def fed(kind: str, rows: list[Any], t: QualityThresholds = T) -> KindAccumulator:
    acc = KindAccumulator(kind)
    for row in rows:
        acc.add(row, t)
    return acc


def scattered(kind: str, rows: list[dict[str, Any]], rng: random.Random) -> KindAccumulator:
    """Rows shuffled, cut into random chunks fed to random accumulators (each persisted and
    reloaded between chunks), then all merged in random order."""
    rows = rows[:]
    rng.shuffle(rows)
    accs = [KindAccumulator(kind) for _ in range(rng.randint(1, 5))]
    start = 0
    while start < len(rows):
        end = start + rng.randint(1, 40)
        i = rng.randrange(len(accs))
        for row in rows[start:end]:
            accs[i].add(row, T)
        accs[i] = round_trip(accs[i])
        start = end
    rng.shuffle(accs)
    while len(accs) > 1:
        a, b = accs.pop(), accs.pop()
        a.merge(b)
        accs.insert(rng.randrange(len(accs) + 1), round_trip(a) if rng.random() < 0.5 else a)
    return accs[0]


def close(new: Any, old: Any, path: str = "") -> None:
    """Same keys; numbers within 1e-4 (a 4th-decimal knife-edge flip) plus 1e-12 relative."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and new.keys() == old.keys(), path
        for key in old:
            close(new[key], old[key], f"{path}.{key}")
        return
    assert math.isfinite(new), path
    assert abs(new - old) <= 1.0001e-4 + 1e-12 * max(abs(new), abs(old)), (path, new, old)


def without_track(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "ts"}


# -- real recordings -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name.split("_", 1)[1].split(".")[0])
def test_real_recordings_split_merged_and_persisted(path: Any) -> None:
    rng = random.Random(path.name)
    by_kind = recording_rows(path)
    assert by_kind, "the recording yields sample rows"
    for kind, rows in by_kind.items():
        want = cumulative(kind, rows)
        assert want == fed(kind, rows).block()
        close(want, legacy_cumulative(kind, rows))
        for _ in range(4):
            acc = scattered(kind, rows, rng)
            assert acc.block() == want, kind
            # Histograms, sums and counts do not depend on the order; the per-ssrc last
            # timestamps (``ts``) do, and only matter for rows without ``_interval_s``.
            assert without_track(acc.to_state()) == without_track(fed(kind, rows).to_state())


def test_real_state_is_small_and_json() -> None:
    rows = recording_rows(FIXTURES / "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl")
    for kind, kind_rows in rows.items():
        state = fed(kind, kind_rows).to_state()
        assert json.loads(json.dumps(state, allow_nan=False)) == state
        assert len(orjson.dumps(state)) < 4000, kind


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name.split("_", 1)[1].split(".")[0])
def test_real_averages_are_fsum_over_n(path: Any) -> None:
    # Independent per-row values (the legacy helpers), averaged as round(fsum / n, 4).
    for kind, rows in recording_rows(path).items():
        producer = kind.endswith("_producer")
        block = cumulative(kind, rows)
        loss = [legacy._loss_pct(r, producer) for r in rows]
        if "packet_loss" in block:  # Q11: absent when no row measured it
            assert block["packet_loss"]["avg"] == round(math.fsum(loss) / len(rows), 4)
        latency = [legacy._rtt_ms(r) if producer else legacy._jbd_ms(r) for r in rows]
        key = "rtt" if producer else "jitter_buffer_delay"
        if key in block:
            assert block[key]["avg"] == round(math.fsum(latency) / len(rows), 4)
        mos = [r["mos_quality"] for r in rows]
        assert block["quality_mos"]["avg"] == round(math.fsum(mos) / len(rows), 4)


def test_reference_rows_merged_in_order_reproduce_the_reference_block() -> None:
    quality = json.loads(Path(__file__).with_name("reference_quality.json").read_text())
    rows = quality["audio_producer"]
    for cut in range(len(rows) + 1):
        first, second = fed("audio_producer", rows[:cut]), fed("audio_producer", rows[cut:])
        first = round_trip(first)
        first.merge(round_trip(second))
        assert realtimekit(first.block()) == quality["audio_producer_cumulative"]


# -- exactness on hand-made rows -------------------------------------------------------------------


def test_exact_sums_do_not_depend_on_order() -> None:
    values = [1e15 - 1, 0.1, 0.2, 0.3, 1e-9, 3.3, 7e14]
    exact = sum(Fraction(v) for v in values)
    rng = random.Random(1)
    blocks = set()
    for _ in range(30):
        rng.shuffle(values)
        rows = [{"_loss_pct": 0.0, "rtt": v / 1000} for v in values]
        acc = fed("audio_producer", rows)
        assert acc.latency == exact_units(
            sum((Fraction(r["rtt"] * 1000) for r in rows), Fraction(0))
        )
        blocks.add(json.dumps(acc.block(), sort_keys=True))
    assert len(blocks) == 1
    avg = json.loads(blocks.pop())["rtt"]["avg"]
    # rtt ms = float(rtt·1000), so compare with the float products' exact mean.
    products = [float(Fraction(v / 1000) * 1000) for v in values]
    assert avg == round(float(sum(Fraction(p) for p in products)) / len(values), 4)
    assert abs(avg - float(exact) / len(values)) < 1e-3


def exact_units(value: Fraction) -> int:
    scaled = value * 2**1074
    assert scaled.denominator == 1
    return int(scaled)


def test_percentiles_from_histogram_match_sorted_list() -> None:
    rows = [{"mos_quality": v} for v in (4.1, 1.0, 4.1, 3.3, 2.0, 4.1, -0.0, 0.0, 5.0)]
    got = cumulative("audio_consumer", rows)["quality_mos"]
    assert got == legacy_cumulative("audio_consumer", rows)["quality_mos"]
    assert got["p50"] == 3.3 and got["p90"] == 4.28  # pos 7.2 between 4.1 and 5.0


def test_high_feedback_interval_from_timestamps_across_a_merge() -> None:
    def row(second: int, pli: int, ssrc: Any = 1) -> dict[str, Any]:
        return {"ssrc": ssrc, "pli_count": pli, "timestamp": f"2023-12-14T13:35:{second:02d}.000Z"}

    rows = [row(10, 0), row(15, 1), row(20, 1, ssrc=2), row(25, 1), row(26, 9, ssrc=2),
            row(24, 5), {"ssrc": 1, "pli_count": 9, "_interval_s": 1.0, "timestamp": "junk"},
            row(40, 4), row(41, 1, ssrc=3)]  # fmt: skip
    want = cumulative("video_producer", rows)
    assert want == legacy_cumulative("video_producer", rows)
    assert want["high_negative_feedback_fraction"] == round(4 / 9, 4)
    for cut in range(len(rows) + 1):
        for cut2 in range(cut, len(rows) + 1):
            a, b, c = (fed("video_producer", part)
                       for part in (rows[:cut], rows[cut:cut2], rows[cut2:]))  # fmt: skip
            b.merge(round_trip(c))  # (a·(b·c)) == ((a·b)·c) == all rows in order
            a = round_trip(a)
            a.merge(b)
            assert a.block() == want, (cut, cut2)


def test_sample_rows_and_garbage_rows_are_accepted_like_cumulative() -> None:
    row = {"mos_quality": 3.5, "_loss_pct": 12.0, "rtt": 0.3}
    acc = KindAccumulator("audio_producer")
    acc.add(SampleRow("audio_producer", "k", 0.0, row), T)  # type: ignore[arg-type]
    acc.add(SampleRow("audio_producer", "k", 0.0, None), T)  # type: ignore[arg-type]
    acc.add(None, T)  # type: ignore[arg-type]
    acc.add(row, "bad")  # type: ignore[arg-type]
    assert acc.rows == 2
    assert acc.block() == cumulative("audio_producer", [row, row])
    assert acc.block()["rtt"]["250ms_or_greater_event_fraction"] == 1.0


def test_garbage_jitter_buffer_counters_are_uncomputable() -> None:
    rows = [{"jitter_buffer_delay": 1.0, "jitter_buffer_emitted_count": 1e-300},
            {"jitter_buffer_delay": 1.0, "jitter_buffer_emitted_count": 5e-324},
            {"jitter_buffer_delay": 0.06, "jitter_buffer_emitted_count": 1}]  # fmt: skip
    got = cumulative("audio_consumer", rows)["jitter_buffer_delay"]
    assert got["avg"] == 20.0 and got["100ms_or_greater_event_fraction"] == 0.0


def test_negative_requests_and_key_frames_above_frames() -> None:
    rows: list[dict[str, Any]] = [
        {"_interval_s": 1.0, "pli_count": -3, "fir_count": "x", "frames_encoded": 3,
         "key_frames_encoded": 5},
        {"_interval_s": 1.0, "pli_count": 0.5, "fir_count": True, "frames_encoded": 5e-324,
         "key_frames_encoded": 1e14},
    ]  # fmt: skip
    got = cumulative("video_producer", rows)
    assert got == legacy_cumulative("video_producer", rows)
    assert got["key_frames_encoded_fraction"] == 1.0
    assert got["high_negative_feedback_fraction"] == 0.5


def test_threshold_counts_are_taken_at_add_time() -> None:
    rows = [{"frame_height": 300, "frame_width": 400}, {"frame_height": 720, "frame_width": 1280}]
    strict = QualityThresholds(poor_resolution_height=1000)
    acc = fed("video_consumer", rows[:1], strict)
    acc.merge(fed("video_consumer", rows[1:], strict))
    assert acc.block()["issues"]["poor_resolution_fraction"] == 1.0
    assert cumulative("video_consumer", rows)["issues"]["poor_resolution_fraction"] == 0.5


# -- merge and state -------------------------------------------------------------------------------


def test_constructor_and_merge_errors() -> None:
    with pytest.raises(ValueError):
        KindAccumulator("not_a_kind")
    with pytest.raises(ValueError):
        KindAccumulator.from_state("nope", {})
    acc = KindAccumulator("audio_producer")
    with pytest.raises(ValueError):
        acc.merge(KindAccumulator("audio_consumer"))
    with pytest.raises(TypeError):
        acc.merge({})  # type: ignore[arg-type]


def test_merge_with_itself_doubles_the_rows() -> None:
    rows = [{"mos_quality": 4.0, "_loss_pct": 10.0, "frames_per_second": 30, "ssrc": 1,
             "timestamp": "2023-12-14T13:35:10.000Z", "pli_count": 1}]  # fmt: skip
    acc = fed("video_producer", rows)
    acc.merge(acc)
    assert acc.block() == cumulative("video_producer", rows * 2)


def test_state_shape_and_exact_round_trip() -> None:
    rows = [
        {
            "mos_quality": 4.0,
            "_loss_pct": 7.5,
            "rtt": 0.1234567,
            "frames_per_second": 29.97,
            "frame_width": 1280,
            "frame_height": 720,
            "frames_encoded": 300,
            "key_frames_encoded": 2,
            "quality_limitation_durations": {"bandwidth": 0.1, "none": 9.9},
            "ssrc": 2**70,
            "timestamp": "2023-12-14T13:35:10.000Z",
            "pli_count": 3,
        },
        {
            "mos_quality": 1.5,
            "ssrc": "7",
            "timestamp": "2023-12-14T13:35:11.000Z",
            "_interval_s": 2.0,
            "quality_limitation_reason": "cpu",
        },
        {"ssrc": True, "timestamp": "2023-12-14T13:35:12.000Z", "fir_count": 1},
        {"ssrc": -(2**64), "timestamp": "2023-12-14T13:35:12.000Z"},
    ]
    acc = fed("video_producer", rows)
    state = acc.to_state()
    assert state["v"] == 2 and state["kind"] == "video_producer" and state["n"] == 4
    assert state["lm"] == [0, []] and state["tm"] == 1  # Q11: rtt measured; loss: no packets_sent
    assert state["mos"] == [1.5, 1, 4.0, 1]
    assert state["fw"] == [1280.0, 1]
    assert state["kf"] == [[2.0], [300.0]]
    assert state["qlr"] == [1, 0, 1]
    assert [entry[0] for entry in state["ts"]] == [[str(2**70)], "7", True, [str(-(2**64))]]
    assert len(state["ts"][0]) == 5  # first row of its ssrc without an interval: pending
    assert _from_floats(state["lat"][0], 4, 1e18) == acc.latency
    again = round_trip(acc)
    assert again.to_state() == state and again.block() == acc.block()
    assert KindAccumulator("audio_consumer").to_state() == {
        "v": 2, "kind": "audio_consumer", "n": 0, "mos": [], "loss": [[], 0, 0, 0, 0],
        "lat": [[], 0, 0, 0], "lm": [0, []], "tm": 0}  # fmt: skip
    assert round_trip(KindAccumulator("video_consumer")).block() == {}


def test_to_floats_is_exact() -> None:
    for total in (0, 1, 3 << 2000, (1 << 1200) + 1, 12345678901234567890123 << 1000):
        floats = _to_floats(total)
        assert all(isinstance(f, float) and math.isfinite(f) for f in floats)
        assert _from_floats(floats, 1, math.ldexp(1, 1000)) == total
    assert _from_floats([1.0, 2.0], 1, 2.5) is None


def valid_states() -> list[tuple[str, dict[str, Any]]]:
    rows = recording_rows(FIXTURES / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl")
    out = [(kind, fed(kind, kind_rows).to_state()) for kind, kind_rows in rows.items()]
    pending = [{"ssrc": 5, "timestamp": "2023-12-14T13:35:10.000Z"}]
    out.append(("video_producer", fed("video_producer", pending).to_state()))
    return out


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "x",
        {},
        {"v": 2},
        {"v": 1, "kind": "audio_consumer"},
        {"v": 1, "kind": "video_producer", "n": -1},
        {"v": 1, "kind": "video_producer", "n": 1.0},
        {"n": 10**30},
        {"mos": [4.0]},
        {"mos": [4.0, 0]},
        {"mos": [4.0, 1.5]},
        {"mos": [math.nan, 1]},
        {"mos": [1e15, 1]},
        {"mos": [1, 1]},
        {"mos": [4.0, 10**9]},
        {"loss": []},
        {"loss": [[], 0, 0, 0]},
        {"loss": [[-1.0], 0, 0, 0, 0]},
        {"loss": [[math.inf], 0, 0, 0, 0]},
        {"loss": [[1e301], 0, 0, 0, 0]},
        {"loss": [[1e6], 0, 0, 0, 0]},
        {"lat": [[1e300], 0, 0, 0]},
        {"loss": [1.0, 0, 0, 0, 0]},
        {"loss": [[1], 0, 0, 0, 0]},
        {"loss": [[], 0, 0, True, 0]},
        {"loss": [[], 0, 0, 10**9, 0]},
        {"lat": "x"},
        {"lat": []},
        {"lat": [[], 0, 0, -1]},
        {"fps": None},
        {"fw": [1.0, 1, 2.0]},
        {"kf": [[]]},
        {"kf": [[], [], []]},
        {"kf": [[], [-5.0]]},
        {"kf": "ab"},
        {"poor": -1},
        {"nov": 10**9},
        {"lag": None},
        {"ql": [[], [], []]},
        {"ql": [[], [], [], [-1.0]]},
        {"qlr": [0, 0]},
        {"hnf": 1.5},
        {"ts": None},
        {"ts": [1]},
        {"ts": [[1]]},
        {"ts": [[1, 1.0, 2.0]]},
        {"ts": [[1, 1]]},
        {"ts": [[1, math.nan]]},
        {"ts": [[1.5, 1.0]]},
        {"ts": [[["x"], 1.0]]},
        {"ts": [[["1", "2"], 1.0]]},
        {"ts": [[[5], 1.0]]},
        {"ts": [[1, 1.0], [1, 2.0]]},
        {"ts": [[1, 1.0, 2.0, 3.0, None]]},
    ],
)
def test_from_state_garbage_gives_an_empty_accumulator(garbage: Any) -> None:
    for kind, state in valid_states():
        if isinstance(garbage, dict) and garbage and not garbage.keys() & {"v", "kind"}:
            if not garbage.keys() <= state.keys():
                continue
            broken: Any = {**state, **garbage}
        else:
            broken = garbage
        acc = KindAccumulator.from_state(kind, broken)
        assert acc.rows == 0 and acc.block() == {}, (kind, garbage)
        assert acc.to_state() == KindAccumulator(kind).to_state()


def test_from_state_accepts_what_to_state_wrote() -> None:
    for kind, state in valid_states():
        restored = KindAccumulator.from_state(kind, orjson.loads(orjson.dumps(state)))
        assert restored.to_state() == state
        assert restored.rows == state["n"] > 0


def test_from_state_merges_duplicate_histogram_values() -> None:
    state = KindAccumulator("audio_producer").to_state()
    state.update(n=3, mos=[4.0, 1, -0.0, 1, 0.0, 1])
    acc = KindAccumulator.from_state("audio_producer", state)
    assert acc.mos == {4.0: 1, 0.0: 2}


# -- properties ------------------------------------------------------------------------------------

FIELDS = (
    "mos_quality", "_loss_pct", "packets_lost", "packets_sent", "packets_received", "rtt",
    "jitter_buffer_delay", "jitter_buffer_emitted_count", "frames_per_second", "frame_width",
    "frame_height", "frames_encoded", "frames_decoded", "key_frames_encoded",
    "key_frames_decoded", "bytes_sent", "pli_count", "fir_count", "_interval_s",
    "_freeze_count", "_freezes_duration_s", "_active",
)  # fmt: skip
STAMPS = [f"2023-12-14T13:35:{s:02d}.{ms:03d}Z" for s in range(0, 60, 7) for ms in (0, 500)]

# Garbage of every kind: NaN/inf, magnitudes at and past the 1e15 bound, subnormals, bools,
# 64+-bit ints, strings, containers.
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e15, -1e15, 1e15 - 1, 9.99e14, 1e300,
                     -0.0, 5e-324, 2**70, -(2**63), 10**15, 10**15 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
)  # fmt: skip
SANE = st.one_of(
    st.integers(min_value=-10, max_value=5000),
    st.floats(min_value=-10, max_value=5000).map(lambda x: round(x, 3)),
    st.sampled_from([0, 0.0, 1, 5, 10, 25, 50, 100, 0.25, 0.5]),
)


def rows_strategy(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    durations = st.one_of(values, st.dictionaries(
        st.sampled_from(["bandwidth", "cpu", "none", "other", "x"]), values, max_size=4))  # fmt: skip
    row = st.fixed_dictionaries(
        {},
        optional={
            **dict.fromkeys(FIELDS, values),
            "quality_limitation_durations": durations,
            "quality_limitation_reason": st.sampled_from(["none", "bandwidth", "cpu", "other", 3]),
            "ssrc": st.one_of(st.sampled_from([1, 2, "1", True, None, 2**70, 1.5])),
            "timestamp": st.one_of(st.sampled_from(STAMPS), st.sampled_from(
                ["2023-12-14T13:35:36", "junk", "2023-12-14T13:35:36+02:00"]), values),
        },
    )  # fmt: skip
    return st.lists(row, max_size=25)


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def contiguous_tree(kind: str, rows: list[dict[str, Any]], data: st.DataObject) -> KindAccumulator:
    """Rows cut into contiguous chunks, merged pairwise in order (any tree), states persisted."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=5)))
    bounds = [0, *cuts, len(rows)]
    accs = [round_trip(fed(kind, rows[a:b])) for a, b in pairwise(bounds)]
    while len(accs) > 1:
        i = data.draw(st.integers(0, len(accs) - 2))
        left, right = accs[i], accs.pop(i + 1)
        left.merge(right)
        accs[i] = round_trip(left)
    return accs[0]


@PROPERTY
@given(kind=st.sampled_from(KINDS), rows=rows_strategy(GARBAGE), data=st.data())
def test_property_garbage_rows_split_in_order(
    kind: str, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    want = cumulative(kind, rows)
    acc = contiguous_tree(kind, rows, data)
    assert acc.block() == want
    assert acc.rows == len(rows)
    json.dumps(want, allow_nan=False)
    state = acc.to_state()
    assert orjson.loads(orjson.dumps(state)) == state
    assert KindAccumulator.from_state(kind, orjson.loads(orjson.dumps(state))).to_state() == state


@PROPERTY
@given(kind=st.sampled_from(KINDS), rows=rows_strategy(GARBAGE), seed=st.integers(0, 2**32))
def test_property_any_order_and_split_when_intervals_are_known(
    kind: str, rows: list[dict[str, Any]], seed: int
) -> None:
    # With a valid _interval_s (as every row of this package has) nothing depends on the order.
    rows = [{**row, "_interval_s": 1.0 + i % 3} for i, row in enumerate(rows)]
    want = cumulative(kind, rows)
    assert scattered(kind, rows, random.Random(seed)).block() == want


@PROPERTY
@given(kind=st.sampled_from(KINDS), rows=rows_strategy(SANE))
def test_property_matches_the_legacy_implementation(kind: str, rows: list[dict[str, Any]]) -> None:
    close(cumulative(kind, rows), legacy_cumulative(kind, rows))


@PROPERTY
@given(
    kind=st.sampled_from(KINDS),
    rows=rows_strategy(GARBAGE),
    garbage=st.recursive(
        GARBAGE,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=10,
    ),
    data=st.data(),
)
def test_property_from_state_never_raises(
    kind: str, rows: list[dict[str, Any]], garbage: Any, data: st.DataObject
) -> None:
    assert KindAccumulator.from_state(kind, garbage).block() == {}
    state = fed(kind, rows).to_state()
    key = data.draw(st.sampled_from(sorted(state)))
    state[key] = garbage
    acc = KindAccumulator.from_state(kind, state)
    json.dumps(acc.block(), allow_nan=False)
    orjson.dumps(acc.to_state())
