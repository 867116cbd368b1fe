"""MOS formulas against hand-computed values (independent arithmetic in each case)."""

import math
from typing import Any

import pytest

from rtk_sessions.stats.scoring import (
    audio_delay_impairment,
    audio_mos,
    audio_r_factor,
    r_to_mos,
    screenshare_video_mos,
    video_mos,
)


@pytest.mark.parametrize(
    ("r", "expected"),
    [
        (-5, 1.0),
        (0, 1.0),
        (100, 4.5),
        (120, 4.5),
        # 1 + 0.035*50 + 7e-6*50*(-10)*50 = 1 + 1.75 - 0.175
        (50, 2.575),
        # 1 + 0.035*80 + 7e-6*80*20*20 = 1 + 2.8 + 0.224
        (80, 4.024),
    ],
)
def test_r_to_mos_g107(r: int, expected: float) -> None:
    assert r_to_mos(r) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("delay", "expected"),
    [(0, 0.0), (-10, 0.0), (100, 2.4), (177.3, 0.024 * 177.3), (300, 7.2 + 0.11 * 122.7)],
)
def test_delay_impairment_cole_rosenbluth(delay: float, expected: Any) -> None:
    assert audio_delay_impairment(delay) == pytest.approx(expected)


def test_audio_mos_32kbps_clean() -> None:
    # d = 20 + 50 + 50/2 = 95 ms -> Id = 2.28; Ie = 55 - 4.6 ln 32000; no loss.
    ie = 55 - 4.6 * math.log(32000)
    r = 100 - ie - 0.024 * 95
    expected = round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 2)
    got = audio_mos(loss_pct=0, bitrate_bps=32000, rtt_ms=50, buffer_delay_ms=50)
    assert got == expected == 4.35


def test_audio_mos_with_loss_fec_off_and_long_delay() -> None:
    # d = 20 + 200 + 100 = 320 -> Id = 0.024*320 + 0.11*(320-177.3)
    ie = 55 - 4.6 * math.log(20000)
    ie_eff = ie + (100 - ie) * 5 / (5 + 10)
    r = 100 - ie_eff - (0.024 * 320 + 0.11 * (320 - 177.3))
    expected = round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 2)
    got = audio_mos(loss_pct=5, bitrate_bps=20000, rtt_ms=200, buffer_delay_ms=200, fec=False)
    assert got == expected
    assert 1 < got < 3


def test_audio_r_dtx_and_unknown_bitrate() -> None:
    # DTX: Ie = 8; unknown bitrate: Ie = 6. d = 20 ms -> Id = 0.48.
    assert audio_r_factor(
        loss_pct=0, bitrate_bps=None, rtt_ms=0, buffer_delay_ms=0, dtx=True
    ) == pytest.approx(100 - 8 - 0.48)
    assert audio_r_factor(loss_pct=0, bitrate_bps=0, rtt_ms=0, buffer_delay_ms=0) == pytest.approx(
        100 - 6 - 0.48
    )


def test_audio_r_clamped_to_zero_with_total_loss() -> None:
    assert audio_r_factor(loss_pct=100, bitrate_bps=6000, rtt_ms=2000, buffer_delay_ms=500) == 0
    assert audio_mos(loss_pct=100, bitrate_bps=6000, rtt_ms=2000, buffer_delay_ms=500) == 1.0


def test_video_mos_rtcscore() -> None:
    # 640x360 @ 22 fps, 500 kb/s, VP8: b = 500000/230400/22
    b = 500000 / (640 * 360) / 22
    base = 0.56 * math.log(b) + 5.36
    expected = round(base - 1.9 * math.log(30 / 22) - 0.002 * (20 + 60 / 2), 2)
    got = video_mos(
        bitrate_bps=500000,
        width=640,
        height=360,
        frame_rate=22,
        expected_frame_rate=30,
        rtt_ms=60,
        buffer_delay_ms=20,
    )
    assert got == expected == 3.37


def test_video_mos_vp9_factor_and_no_bonus_above_expected_fps() -> None:
    b = 1.2 * 2_000_000 / (1280 * 720) / 60
    base = 0.56 * math.log(b) + 5.36
    expected = round(base - 0.002 * 0, 2)  # ratio capped at 1: no frame-rate bonus
    got = video_mos(
        bitrate_bps=2_000_000,
        width=1280,
        height=720,
        frame_rate=60,
        expected_frame_rate=30,
        rtt_ms=0,
        buffer_delay_ms=0,
        codec_factor=1.2,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"frame_rate": 0.5}, 1.0),
        ({"width": 0}, 1.0),
        ({"bitrate_bps": 0}, 1.0),
        ({"bitrate_bps": 1e9}, 5.0),
    ],
)
def test_video_mos_edges(kwargs: dict[str, Any], expected: float) -> None:
    args = {
        "bitrate_bps": 300000,
        "width": 640,
        "height": 360,
        "frame_rate": 30,
        "expected_frame_rate": 30,
        "rtt_ms": 0,
        "buffer_delay_ms": 0,
    }
    args.update(kwargs)
    assert video_mos(**args) == expected


@pytest.mark.parametrize(
    ("loss", "limited", "expected"),
    [
        (0, False, 5.0),
        (0, True, 3.5),
        (1.5, False, 4.5),
        (2.0, False, 4.5),
        (3.0, False, 3.5),
        (4.0, False, 2.0),
        (10, True, 2.0),
        (1.0, True, 3.5),
    ],
)
def test_screenshare_loss_only(loss: float, limited: bool, expected: float) -> None:
    assert screenshare_video_mos(loss_pct=loss, limited=limited) == expected


def test_video_mos_underflowing_bits_per_pixel_is_one() -> None:
    assert (
        video_mos(
            bitrate_bps=5e-324,
            width=65535,
            height=65535,
            frame_rate=30,
            expected_frame_rate=30,
            rtt_ms=0,
            buffer_delay_ms=0,
        )
        == 1.0
    )
