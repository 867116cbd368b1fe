"""The browser collector: static JavaScript a web app loads to report getStats() and lifecycle
events to the ingestion API (see docs/collector.md).

``COLLECTOR_PATH`` is the classic-script/UMD file (sets ``window.RTKCollector``);
``COLLECTOR_MODULE_PATH`` is the ES-module wrapper that imports it (serve both from one directory).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

_PKG = files(__name__)


def _path(name: str) -> Path:
    with as_file(_PKG / name) as p:  # a real directory for a normal or editable install
        return Path(p)


COLLECTOR_PATH: Path = _path("rtk-collector.js")
COLLECTOR_MODULE_PATH: Path = _path("rtk-collector.mjs")


def collector_js() -> str:
    """The collector source, for serving at e.g. ``/static/rtk-collector.js``."""
    return (_PKG / "rtk-collector.js").read_text(encoding="utf-8")


__all__ = ["COLLECTOR_MODULE_PATH", "COLLECTOR_PATH", "collector_js"]
