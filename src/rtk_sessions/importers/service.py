"""``rtk-sessions import``: recordings → ingestion events → the live ingestion code path.

The importers' service function: it validates with the ingestion contract and writes through the
domain layer, like the ingestion endpoint does, and imports nothing from ``api``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rtk_sessions.clock import parse_iso, utc_now
from rtk_sessions.config import Settings
from rtk_sessions.contract.ingest import IngestBatch, batch_validation_message
from rtk_sessions.domain import accounts
from rtk_sessions.domain.ingest import ingest_batch
from rtk_sessions.domain.lifecycle import sweep
from rtk_sessions.errors import BadRequest
from rtk_sessions.importers.ingest import to_ingest_events
from rtk_sessions.importers.loader import load_recording
from rtk_sessions.storage.engine import Database

BATCH = 500
_NS = uuid.UUID("5d1f4f0e-3a55-4c1e-9a49-1f6f3c1c7d10")


@dataclass
class ImportResult:
    session_id: str
    meeting_id: str
    peers: list[tuple[str, str]] = field(default_factory=list)  # (peer_id, client name)
    accepted: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "meeting_id": self.meeting_id,
            "peer_ids": [p for p, _ in self.peers],
            "peers": [{"peer_id": p, "name": n} for p, n in self.peers],
            "events_accepted": self.accepted,
            "events_duplicate": self.duplicates,
        }


def import_recordings(
    database: Database,
    settings: Settings,
    paths: Sequence[Path],
    *,
    account_id: str,
    app_id: str,
    meeting_title: str | None = None,
    progress: bool = False,
) -> ImportResult:
    """Load ``paths`` and ingest them as one session of a meeting, one peer per recorded client.

    Ids (meeting, session, peers, events) derive from the files' contents and the app, so a second
    import of the same files is recognised and changes nothing. raises AppNotFound, BadRequest,
    importers.RecordingFormatError.
    """
    from tqdm import tqdm

    with database.unit_of_work(write=False) as s:
        accounts.get_app(s, account_id, app_id)
    total_bytes = sum(p.stat().st_size for p in paths)
    recordings = []
    with tqdm(
        total=total_bytes, unit="B", unit_scale=True, desc="reading", disable=not progress
    ) as bar:
        for path in paths:
            # load_recording reports the running total of bytes read in this file.
            def advance(n: int, base: float = bar.n) -> None:
                bar.update(base + n - bar.n)

            recordings.append(load_recording(path, progress=advance))
    key = hashlib.sha256(
        (app_id + "|" + "|".join(sorted(r.sha256 for r in recordings))).encode()
    ).hexdigest()
    meeting_id = str(uuid.uuid5(_NS, f"{key}:meeting"))
    session_id = str(uuid.uuid5(_NS, f"{key}:session"))
    title = meeting_title or "Import of " + ", ".join(p.name for p in paths)
    result = ImportResult(session_id=session_id, meeting_id=meeting_id)
    events: list[dict[str, Any]] = []
    for r_index, recording in enumerate(recordings):
        for c_index, client in enumerate(recording.clients):
            peer_id = str(uuid.uuid5(_NS, f"{key}:{recording.sha256}:{c_index}:{client.name}"))
            result.peers.append((peer_id, client.name))
            events.extend(
                to_ingest_events(
                    client,
                    peer_id=peer_id,
                    meeting_id=meeting_id,
                    session_id=session_id,
                    meeting_title=title,
                    id_prefix=f"import:{key[:16]}:{r_index}:{c_index}",
                )
            )
    events.sort(key=_epoch_ms)
    with tqdm(total=len(events), unit="event", desc="ingesting", disable=not progress) as bar:
        for start in range(0, len(events), BATCH):
            chunk = events[start : start + BATCH]
            try:
                batch = IngestBatch.model_validate({"events": chunk})
            except ValidationError as exc:
                raise BadRequest(batch_validation_message(exc)) from None
            with database.unit_of_work() as s:
                app = accounts.get_app(s, account_id, app_id)
                applied = ingest_batch(
                    s,
                    app,
                    batch.events,
                    now=utc_now(),
                    default_keep_alive=settings.session_keep_alive_secs,
                )
            result.accepted += applied.accepted
            result.duplicates += applied.duplicates
            bar.update(len(chunk))
    with database.unit_of_work() as s:
        sweep(s, now=utc_now(), peer_timeout=timedelta(seconds=settings.peer_timeout_secs))
    return result


def _epoch_ms(event: dict[str, Any]) -> float:
    ts = event["timestamp"]
    if isinstance(ts, int | float):
        return float(ts)
    return parse_iso(ts).timestamp() * 1000
