from __future__ import annotations

import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-stats"
TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:  # so `import oracle` works however pytest is invoked
    sys.path.insert(0, str(TESTS_DIR))

LEGACY = {
    "google-standard-stats-p2p": FIXTURES
    / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl",
    "google-standard-stats-sfu": FIXTURES
    / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl",
    "firefox-standard-stats-sfu": FIXTURES
    / "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl",
    "chrome-standard-multiple-p2p": FIXTURES
    / "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl",
    "chrome-relay": FIXTURES / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl",
}


@pytest.fixture(params=sorted(LEGACY), ids=sorted(LEGACY))
def legacy_path(request: pytest.FixtureRequest) -> Path:
    return LEGACY[request.param]
