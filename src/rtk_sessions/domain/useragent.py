"""User-agent strings to the peer report's ``browser_metadata`` and ``device_info``
(via ua-parser)."""

from __future__ import annotations

from typing import Any

import ua_parser

_BLINK = {
    "Chrome",
    "Chromium",
    "Edge",
    "Opera",
    "Brave",
    "Samsung Internet",
    "Chrome Mobile",
    "Chrome Mobile WebView",
    "Edge Mobile",
    "Opera Mobile",
    "Yandex Browser",
    "Vivaldi",
    "HeadlessChrome",
}
_GECKO = {"Firefox", "Firefox Mobile", "Firefox iOS"}
_MOBILE_OS = {"Android", "iOS", "iPadOS", "Windows Phone", "BlackBerry OS", "KaiOS"}


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


def warm_up() -> None:
    """Build ua-parser's matchers now (about a second of CPU) rather than in the first request
    that carries a user agent."""
    ua_parser.parse("Mozilla/5.0")


def describe(user_agent: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(browser_metadata, device_info)`` for a user agent.

    browser_metadata: {browser, browser_version, engine, user_agent}; device_info: {os,
    os_version, is_mobile}. Engine: Blink for Chromium-based browsers, Gecko for Firefox (not on
    iOS), WebKit for Safari and anything on iOS.
    """
    result = ua_parser.parse(user_agent)
    ua, os_, device = result.user_agent, result.os, result.device
    browser = ua.family if ua else None
    os_family = os_.family if os_ else None
    if os_family == "iOS" or (browser and "Safari" in browser):
        engine = "WebKit"
    elif browser in _GECKO:
        engine = "Gecko"
    elif browser in _BLINK or (browser and browser.startswith("Chrome")):
        engine = "Blink"
    else:
        engine = None
    browser_metadata: dict[str, Any] = {"user_agent": user_agent}
    if browser and browser != "Other":
        browser_metadata["browser"] = browser
        version = _version(ua.major, ua.minor, ua.patch) if ua else None
        if version:
            browser_metadata["browser_version"] = version
    if engine:
        browser_metadata["engine"] = engine
    device_info: dict[str, Any] = {}
    if os_family and os_family != "Other":
        device_info["os"] = "macOS" if os_family == "Mac OS X" else os_family
        version = _version(os_.major, os_.minor, os_.patch) if os_ else None
        if version:
            device_info["os_version"] = version
        device_info["is_mobile"] = os_family in _MOBILE_OS or bool(
            device and device.family in {"iPhone", "iPad", "Generic Smartphone"}
        )
    return browser_metadata, device_info
