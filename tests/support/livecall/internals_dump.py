"""Record a real chrome://webrtc-internals "Create dump" file from a loopback call in Chromium.

    from tests.support.livecall.internals_dump import record_internals_dump
    path = record_internals_dump("dump.json", duration_s=20)

One headless Chromium (Debian's, driven by Python Playwright; no browser download), one context
with two tabs: ``chrome://webrtc-internals`` is opened **first**, then a call page that makes a
loopback call between two RTCPeerConnections of the same page (fake camera + microphone via
getUserMedia, remote audio played in an ``<audio>``, remote video in a ``<video>``). After
``duration_s`` the page closes both connections (so the dump's ``updateLog`` has the ``close``
entries) and the dump is taken from the webrtc-internals tab, opened as
``chrome://webrtc-internals/?keepRemovedConnections``: without that switch the page forgets a
connection as soon as it is closed.

How the dump is obtained (``method``):

* ``"button"``: open "Create a WebRTC-Internals dump", set the "Compress result" checkbox to
  ``compress`` and click "Download the webrtc-internals dump"; the file is the browser download
  (``webrtc_internals_dump.txt``, or ``.gz`` when compressed), saved byte for byte;
* ``"evaluate"``: run, in the webrtc-internals page, the same expression as the page's own
  ``DumpCreator.onDownloadInternals_`` (``JSON.stringify({cpuPerformance, deviceMemory,
  hardwareConcurrency, timestamp, getUserMedia: userMediaRequests, PeerConnections:
  peerConnectionDataStore, UserAgent, UserAgentData}, null, 1)``, where the two stores are the
  page's ``window.userMediaRequests``/``window.peerConnectionDataStore``);
* ``"auto"`` (default): the button, falling back to ``evaluate`` if no download arrives.

The call's wall-clock times (``Date.now()`` in the page) are written beside the dump as
``<out_path>.call.json``: ``{"started_ms", "connected_ms", "closed_ms", "method", ...}``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# ?keepRemovedConnections: the page's own switch (webrtc_internals.js removePeerConnection) that
# keeps a connection's record after it goes away. Without it Chromium 156 drops both connections
# from the page as soon as the call page closes them, and the dump is empty.
INTERNALS_URL = "chrome://webrtc-internals/?keepRemovedConnections"

# The flags every Chromium of the tests runs with (no sandbox, no GPU, no background traffic,
# fake camera and microphone); Playwright adds --headless itself.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-dev-shm-usage",
    "--mute-audio",
]

# Served by Playwright's router at http://localhost/ (a secure context, so getUserMedia works).
CALL_ORIGIN = "http://localhost"
CALL_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>rtk-sessions loopback call</title></head>
<body>
<video id="remoteVideo" autoplay playsinline muted></video>
<audio id="remoteAudio" autoplay></audio>
<script>
"use strict";
window.call = {state: "starting"};
window.startCall = async function (durationMs) {
  const call = window.call;
  call.started_ms = Date.now();
  const stream = await navigator.mediaDevices.getUserMedia(
    {audio: true, video: {width: 640, height: 480, frameRate: 30}});
  const a = new RTCPeerConnection({iceServers: []});
  const b = new RTCPeerConnection({iceServers: []});
  a.onicecandidate = e => { if (e.candidate) b.addIceCandidate(e.candidate); };
  b.onicecandidate = e => { if (e.candidate) a.addIceCandidate(e.candidate); };
  b.ontrack = e => {
    const el = document.getElementById(e.track.kind === "audio" ? "remoteAudio" : "remoteVideo");
    if (el.srcObject !== e.streams[0]) {
      el.srcObject = e.streams[0];
      el.play().catch(err => { call.play_error = String(err); });
    }
  };
  const connected = new Promise(resolve => {
    a.onconnectionstatechange = () => { if (a.connectionState === "connected") resolve(); };
  });
  for (const t of stream.getTracks()) a.addTrack(t, stream);
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await connected;
  call.connected_ms = Date.now();
  call.state = "connected";
  await new Promise(r => setTimeout(r, durationMs));
  a.close();
  b.close();
  for (const t of stream.getTracks()) t.stop();
  call.closed_ms = Date.now();
  call.state = "closed";
  return call;
};
</script>
</body></html>
"""

# DumpCreator.onDownloadInternals_ of Chromium's webrtc_internals dump_creator.js, verbatim in
# substance (same keys, same order, same JSON.stringify(…, null, 1)).
EVALUATE_DUMP_JS = """async () => {
  const uaData = await navigator.userAgentData.getHighEntropyValues(['fullVersionList']);
  const dumpObject = {
    cpuPerformance: navigator.cpuPerformance,
    deviceMemory: navigator.deviceMemory,
    hardwareConcurrency: navigator.hardwareConcurrency,
    timestamp: Date.now(),
    getUserMedia: window.userMediaRequests,
    PeerConnections: window.peerConnectionDataStore,
    UserAgent: navigator.userAgent,
    UserAgentData: uaData,
  };
  return JSON.stringify(dumpObject, null, 1);
}"""


class InternalsDumpError(RuntimeError):
    """The call or the dump could not be made."""


def _open_dump_panel(page: Any) -> None:
    """Unfold "Create a WebRTC-Internals dump" (a <details>) so its buttons are clickable."""
    summary = page.locator("summary", has_text="Create a WebRTC-Internals dump")
    if not summary.evaluate("el => el.parentElement.open"):
        summary.click()


def _dump_by_button(page: Any, out: Path, compress: bool, timeout_ms: float) -> bool:
    _open_dump_panel(page)
    box = page.locator("#dump-checkbox")
    if box.is_checked() != compress:
        box.click()
    try:
        with page.expect_download(timeout=timeout_ms) as info:
            page.locator("#dump-click-target").click()
        download = info.value
        if download.failure():
            return False
        download.save_as(out)
    except Exception as exc:  # Playwright TimeoutError and friends: fall back
        if "Timeout" not in type(exc).__name__ and "timeout" not in str(exc).lower():
            raise
        return False
    return out.exists() and out.stat().st_size > 0


def record_internals_dump(
    out_path: str | os.PathLike[str],
    *,
    duration_s: float = 20,
    chromium: str = CHROMIUM,
    method: str = "auto",
    compress: bool = False,
    settle_s: float = 1.5,
    rtcstats_out: str | os.PathLike[str] | None = None,
) -> Path:
    """Run a ~``duration_s`` loopback call in headless Chromium and save its webrtc-internals dump.

    ``compress`` ticks "Compress result" (the page's default), so the file is gzip; only for the
    button method. ``settle_s`` is waited after the close so the last updates reach the page.
    ``rtcstats_out``: also click "Download the rtcstats dump" and save it there (gzip).
    Returns ``out_path``; the call's times go to ``<out_path>.call.json``.
    """
    from playwright.sync_api import sync_playwright

    if method not in ("auto", "button", "evaluate"):
        raise ValueError(f"unknown method {method!r}")
    if not os.path.exists(chromium):
        raise InternalsDumpError(f"{chromium} not found")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        # A persistent (regular) profile: webrtc-internals does not list the peer connections
        # of Playwright's off-the-record browser.new_context() contexts.
        profile = tempfile.TemporaryDirectory(prefix="rtk-internals-")
        context = pw.chromium.launch_persistent_context(
            profile.name, executable_path=chromium, headless=True, args=FLAGS, accept_downloads=True
        )
        version = context.browser.version if context.browser else "?"
        try:
            internals = context.pages[0] if context.pages else context.new_page()
            internals.goto(INTERNALS_URL)
            internals.wait_for_function("() => typeof window.peerConnectionDataStore === 'object'")

            page = context.new_page()
            page.route(
                f"{CALL_ORIGIN}/**",
                lambda route: route.fulfill(
                    status=200, content_type="text/html; charset=utf-8", body=CALL_HTML
                ),
            )
            page.goto(f"{CALL_ORIGIN}/call.html")
            t0 = time.time()
            call = page.evaluate("ms => window.startCall(ms)", int(duration_s * 1000))
            if call.get("state") != "closed":
                raise InternalsDumpError(f"the call did not finish: {call}")
            internals.bring_to_front()
            internals.wait_for_timeout(settle_s * 1000)
            n_pcs = internals.evaluate("Object.keys(window.peerConnectionDataStore).length")
            if n_pcs < 2:
                raise InternalsDumpError(f"webrtc-internals shows {n_pcs} peer connections, not 2")

            if rtcstats_out is not None:
                # the page's second button: the same polls as full getStats() reports, in the
                # rtcstats fileFormat 3 (always gzip), a ground truth for the series above
                _open_dump_panel(internals)
                with internals.expect_download(timeout=15_000) as info:
                    internals.locator("#dump-click-target-rtcstats").click()
                info.value.save_as(Path(rtcstats_out))
            used = None
            if method in ("auto", "button") and _dump_by_button(internals, out, compress, 15_000):
                used = "button"
            elif method == "button":
                raise InternalsDumpError("the 'Create dump' button produced no download")
            else:
                out.write_text(internals.evaluate(EVALUATE_DUMP_JS), encoding="utf-8")
                used = "evaluate"
            page.close()
        finally:
            context.close()
            profile.cleanup()
    call.update(
        method=used,
        compress=compress and used == "button",
        browser_version=version,
        wall_s=round(time.time() - t0, 3),
    )
    Path(f"{out}.call.json").write_text(json.dumps(call, indent=1), encoding="utf-8")
    return out
