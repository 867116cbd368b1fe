"""RealtimeKit routes this service does not implement: each answers 501 with the error envelope.

The official SDKs call these routes (``realtime_kit.recordings``, ``.livestreams``,
``.active_session.create_poll``; see docs/sessions-api.md, "Not supported"). Without them a call
would answer 404 "Route not found", the same error class as a missing session, so a user could
not tell "not supported" from "not found". With them the SDK raises its 5xx error class
(``cloudflare.InternalServerError`` with ``status_code == 501``; ``x-should-retry: false`` stops
its retries) and the message names the feature.

The caller is authenticated first (401/403/404 for a bad token or app, as every app route), so a
501 never tells an anonymous caller more than "this route exists".

``router_for(served)`` builds the router of the routes not in ``served`` (the method and path of
every route the app already has; app.py includes it last): a served route is left out, so it is
neither shadowed nor documented twice. Each route documents ``openapi.NOT_SUPPORTED`` (its 501
with the error envelope, and the errors of every route), never a 200.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Set
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep
from rtk_sessions.api.openapi import NOT_SUPPORTED
from rtk_sessions.errors import NotSupported

_MEDIA = "it needs a media server, which rtk-sessions is not"


@dataclass(frozen=True)
class Unsupported:
    """One route: its SDK method, HTTP method, path under ``/{app_id}``, and the feature."""

    sdk_method: str  # e.g. "recordings.get_recordings"
    method: str
    path: str
    feature: str
    why: str = _MEDIA


ROUTES: tuple[Unsupported, ...] = (
    Unsupported(
        "active_session.create_poll",
        "POST",
        "/meetings/{meeting_id}/active-session/poll",
        "Polls",
        "rtk-sessions has no live media or signalling channel to run a poll on",
    ),
    # recordings: the specific path before the parametrized one
    Unsupported(
        "recordings.get_active_recordings",
        "GET",
        "/recordings/active-recording/{meeting_id}",
        "Recordings",
    ),
    Unsupported("recordings.start_track_recording", "POST", "/recordings/track", "Recordings"),
    Unsupported("recordings.get_recordings", "GET", "/recordings", "Recordings"),
    Unsupported("recordings.start_recordings", "POST", "/recordings", "Recordings"),
    Unsupported("recordings.get_one_recording", "GET", "/recordings/{recording_id}", "Recordings"),
    Unsupported(
        "recordings.pause_resume_stop_recording", "PUT", "/recordings/{recording_id}", "Recordings"
    ),
    # livestreams (livestreams.get_org_analytics shares GET /analytics/daywise with
    # analytics.get_org_analytics, which is served: api/analytics.py)
    Unsupported("livestreams.get_all_livestreams", "GET", "/livestreams", "Livestreams"),
    Unsupported(
        "livestreams.get_livestream_session_details_for_session_id",
        "GET",
        "/livestreams/sessions/{livestream_session_id}",
        "Livestreams",
    ),
    Unsupported(
        "livestreams.get_active_livestreams_for_livestream_id",
        "GET",
        "/livestreams/{livestream_id}/active-livestream-session",
        "Livestreams",
    ),
    Unsupported(
        "livestreams.get_livestream_session_for_livestream_id",
        "GET",
        "/livestreams/{livestream_id}",
        "Livestreams",
    ),
    Unsupported(
        "livestreams.get_livestream_analytics_complete",
        "GET",
        "/analytics/livestreams/overall",
        "Livestream analytics",
    ),
    Unsupported(
        "livestreams.get_livestream_analytics_daywise",
        "GET",
        "/analytics/livestreams/daywise",
        "Livestream analytics",
    ),
    Unsupported(
        "livestreams.get_meeting_active_livestreams",
        "GET",
        "/meetings/{meeting_id}/active-livestream",
        "Livestreams",
    ),
    Unsupported(
        "livestreams.start_livestreaming_a_meeting",
        "POST",
        "/meetings/{meeting_id}/livestreams",
        "Livestreams",
    ),
    Unsupported(
        "livestreams.stop_livestreaming_a_meeting",
        "POST",
        "/meetings/{meeting_id}/active-livestream/stop",
        "Livestreams",
    ),
)


def message(route: Unsupported) -> str:
    """The 501 message: ``<Feature> are not supported by rtk-sessions (<why>): <METHOD> <path>``."""
    verb = "is" if route.feature.endswith("analytics") else "are"
    return (
        f"{route.feature} {verb} not supported by rtk-sessions ({route.why}): "
        f"{route.method} {route.path}"
    )


def _handler(route: Unsupported) -> Callable[..., Awaitable[Response]]:
    text = message(route)

    async def not_supported(request: Request, scope: ApiScopeDep) -> Response:
        raise NotSupported(text)

    not_supported.__name__ = route.sdk_method.replace(".", "_")
    return not_supported


def router_for(served: Set[tuple[str, str]] = frozenset(), prefix: str = "") -> APIRouter:
    """The 501 routes of ``ROUTES`` but those ``served`` already: (METHOD, path) pairs, the path
    as the app has it (``prefix`` + ``/{app_id}`` + ``Unsupported.path``)."""
    router = APIRouter(tags=["not supported"])
    for route in ROUTES:
        path = "/{app_id}" + route.path
        if (route.method, prefix + path) in served:
            continue
        router.add_api_route(
            path,
            _handler(route),
            methods=[route.method],
            summary=f"Not supported (501): {route.sdk_method}",
            status_code=501,
            responses=NOT_SUPPORTED,
        )
    return router


router = router_for()
"""Every route of ``ROUTES`` (for a test or an app without any of them served)."""
