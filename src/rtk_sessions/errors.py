"""Errors raised on purpose by the domain and storage layers.

    RtkError
      BadRequest              400: a parameter or body is invalid
      Unauthorized            401: missing, malformed or unknown token
      Forbidden               403: a valid token used outside its scope
      NotFound                404
        AppNotFound
        SessionNotFound
        ParticipantNotFound
        PeerNotFound
        MeetingNotFound
        TranscriptNotFound
        SummaryNotFound
      PayloadTooLarge         413
      NotSupported            501: a RealtimeKit feature this service does not implement

None of these know about HTTP; ``rtk_sessions.api.envelope`` maps each class to a status code and
the contract's error envelope in one table. :func:`validation_message` is the one wording of
pydantic validation errors (request parameters, ingestion batches, imported files).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any


class RtkError(Exception):
    """Base class for every error this service raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RtkError):
    """A query parameter or request body is invalid; the message says which and why."""


class Unauthorized(RtkError):
    """No credentials, or credentials this service does not know."""


class Forbidden(RtkError):
    """Valid credentials used for another account, app, meeting or participant."""


class PayloadTooLarge(RtkError):
    """The request carries more than the service accepts at once."""


class NotSupported(RtkError):
    """A RealtimeKit route this service knows but does not implement (recordings, livestreams,
    polls): answered 501 so that clients can tell it from a missing resource (404)."""


class NotFound(RtkError):
    """The addressed resource does not exist (in this account and app)."""


class AppNotFound(NotFound):
    def __init__(self, app_id: str) -> None:
        super().__init__(f"App {app_id} not found")


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"Session {session_id} not found")


class ParticipantNotFound(NotFound):
    def __init__(self, participant_id: str, session_id: str | None = None) -> None:
        where = f" in session {session_id}" if session_id else ""
        super().__init__(f"Participant {participant_id} not found{where}")


class PeerNotFound(NotFound):
    def __init__(self, peer_id: str) -> None:
        super().__init__(f"Peer {peer_id} not found")


class MeetingNotFound(NotFound):
    def __init__(self, meeting_id: str) -> None:
        super().__init__(f"Meeting {meeting_id} not found")


class TranscriptNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"No transcript found for session {session_id}")


class SummaryNotFound(NotFound):
    def __init__(self, session_id: str, reason: str | None = None) -> None:
        extra = f": {reason}" if reason else ""
        super().__init__(f"No summary found for session {session_id}{extra}")


def validation_message(
    errors: Sequence[Mapping[str, Any]],
    *,
    prefix: str,
    hidden: Collection[str] = (),
    tag_label: str = "type",
    verbatim: Collection[str] = (),
    missing_is_required: bool = False,
    limit: int = 5,
) -> str:
    """The one message for pydantic validation errors (``ValidationError.errors()`` or FastAPI's
    ``RequestValidationError.errors()``), as a :class:`BadRequest` carries it::

        "<prefix>: events[3].timestamp: <msg>; limit: <msg> (and 2 more)"

    ``hidden``: location parts left out (FastAPI's ``query``/``path``/``body``, the tags of a
    discriminated union). List indexes are written ``[i]``. An unknown union tag reads
    ``unknown <tag_label>; expected one of a, b, c``. At most ``limit`` errors are spelled out.
    An error whose type is in ``verbatim`` (a rule of the contract worded for the client) is the
    whole message, as it is; with ``missing_is_required`` the first missing field among the
    spelled-out errors is too, as ``<where> is required``.
    """
    for err in errors:
        if err.get("type") in verbatim:
            return str(err.get("msg"))
    parts = []
    for err in errors[:limit]:
        where = ""
        for p in err.get("loc", ()):
            if isinstance(p, int):
                where += f"[{p}]"
            elif str(p) not in hidden:
                where += f".{p}" if where else str(p)
        message = str(err.get("msg"))
        if missing_is_required and err.get("type") == "missing" and where:
            return f"{where} is required"
        if err.get("type") == "union_tag_invalid":
            tags = str((err.get("ctx") or {}).get("expected_tags", "")).replace("'", "")
            message = f"unknown {tag_label}; expected one of {tags}"
        parts.append(f"{where}: {message}" if where else message)
    more = len(errors) - len(parts)
    return f"{prefix}: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
