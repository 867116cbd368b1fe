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
the contract's error envelope in one table.
"""

from __future__ import annotations


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
