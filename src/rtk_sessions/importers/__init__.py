"""Importers: turn WebRTC stats recordings into ingestion events.

Entry points: :func:`load_recording` (format sniffing) and :func:`to_ingest_events`.
Supported formats (details in each module and in ``docs/import.md``):

* Jitsi / legacy rtcstats JSON lines ``[method, pcId, value, ts]`` with delta-compressed
  ``getstats`` (:mod:`.jitsi_legacy`);
* rtcstats ``RTCStatsDump`` fileFormat 3, relative timestamps, optionally compressed getStats
  (:mod:`.rtcstats_v3`);
* chrome://webrtc-internals "Create dump" JSON (:mod:`.webrtc_internals`).
A gzip-compressed file of any of these is read transparently.

One file is one client (one RecordedClient), however many peer connections it has.

**Join/leave rule.** ``join_ms`` is the earliest and ``leave_ms`` the latest timestamp of the
records bound to a peer connection: for rtcstats files every record whose pcId is not null
(``create``, state changes, SDP calls, ``getstats`` and the stats timestamps inside it); for
webrtc-internals dumps the stats points and the ``updateLog`` entries. Client-level records
(``connectionInfo``, ``identity``, ``getUserMedia``, ``setVideoType``...) do not count: Jitsi's
public test dumps are stitched (``connectionInfo`` of google-standard-stats-p2p is stamped 2022
while the call is from 2020), and getUserMedia may happen well before the call starts. Client
events outside ``[join_ms, leave_ms]`` are dropped for the same reason.

**Snapshot time.** The latest ``RTCStats.timestamp`` in the full report (for Jitsi, the report's
top-level timestamp), else the record time. Snapshots are in time order.

**Labels.** Jitsi ``setVideoType {ssrc, videoType}`` gives ``{ssrc, kind: "video", source:
"camera" | "screenshare"}`` (``desktop`` = screenshare). Each ``peer.stats`` carries the labels in
force at that time for the ssrcs in its report.
"""

from .ingest import to_ingest_events
from .loader import load_recording
from .model import RecordedClient, Recording, RecordingFormatError, StatsSnapshot

__all__ = [
    "RecordedClient",
    "Recording",
    "RecordingFormatError",
    "StatsSnapshot",
    "load_recording",
    "to_ingest_events",
]
