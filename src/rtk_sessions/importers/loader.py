"""Reading a recording file and sniffing its format."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from . import jitsi_legacy, rtcstats_v3, webrtc_internals
from .model import Recording, RecordingFormatError
from .streams import unusable_streams

CHUNK = 1 << 20


def _read(path: Path, progress: Callable[[int], None] | None) -> bytes:
    buf = bytearray()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                buf += chunk
                if progress is not None:
                    progress(len(buf))
    except OSError as e:
        raise RecordingFormatError(f"cannot read {path}: {e.strerror or e}") from None
    return bytes(buf)


def _client_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".txt", ".rtcstats", ".log"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def load_recording(
    path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
) -> Recording:
    """Load a WebRTC stats recording, detecting its format.

    ``progress`` is called with the **cumulative** number of bytes read so far, after each chunk
    (the last call equals the file size).
    """
    p = Path(path)
    raw = _read(p, progress)
    sha = hashlib.sha256(raw).hexdigest()
    data = raw
    if raw[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise RecordingFormatError(f"{p.name}: corrupt gzip data: {e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RecordingFormatError(
            f"{p.name}: not a text recording (invalid UTF-8 at byte {e.start})"
        ) from None
    name = _client_name(p)
    stripped = text.lstrip()
    if not stripped:
        raise RecordingFormatError(f"{p.name}: the file is empty")
    lines = text.splitlines()
    if stripped.startswith(rtcstats_v3.MAGIC):
        lines = stripped.splitlines()
        clients = rtcstats_v3.parse(lines, name, p.name)
        fmt = "rtcstats-v3"
    elif stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise RecordingFormatError(
                f"{p.name}: starts like a webrtc-internals JSON dump but is not valid JSON "
                f"(truncated?): {e}"
            ) from None
        if not webrtc_internals.looks_like(doc):
            raise RecordingFormatError(
                f"{p.name}: JSON object without 'PeerConnections': not a webrtc-internals dump"
            )
        clients = webrtc_internals.parse(doc, name, p.name)
        fmt = "webrtc-internals"
    elif stripped.startswith("["):
        first_line = stripped.split("\n", 1)[0]
        try:
            first = json.loads(first_line)
        except ValueError:
            first = None
        if not jitsi_legacy.is_legacy_first_line(first):
            raise RecordingFormatError(
                f"{p.name}: line 1 is not a legacy rtcstats record "
                "[method, pcId, value, timestamp_ms]"
            )
        clients = [jitsi_legacy.parse(lines, name, p.name)]
        fmt = "jitsi-rtcstats"
    else:
        if "EVENTS = [" in text and "eventName" in text:
            raise RecordingFormatError(
                f"{p.name}: looks like a peermetrics event list, which is not supported yet"
            )
        raise RecordingFormatError(
            f"{p.name}: unrecognised recording format; expected a Jitsi/legacy rtcstats JSON-lines "
            "dump, an RTCStatsDump (fileFormat 3) or a chrome://webrtc-internals JSON dump"
        )
    # No silent loss: a client whose RTP streams give no sample row fails the whole import.
    unusable = [obj for client in clients for obj in unusable_streams(client)]
    if unusable:
        shown = ", ".join(unusable[:10])
        if len(unusable) > 10:
            shown += f" and {len(unusable) - 10} more"
        raise RecordingFormatError(
            f"{p.name}: the recording has RTP streams that carried packets, but none of them gives "
            f"a sample row, so its call quality would be lost; objects not usable: {shown}"
        )
    return Recording(source=p.name, sha256=sha, clients=clients, format=fmt)
