"""Download files (chat CSV, transcripts, summaries) and the signed, expiring URLs that serve them.

A file is published under a content-addressed name, ``<session>.<sha256 prefix>.<ext>``, so asking
twice for an unchanged export reuses one file and a URL handed out earlier keeps pointing at the
content it was made for. The URL is

    <public base>/downloads/<kind>/<name>?expires=<epoch seconds>&sig=<hex HMAC-SHA256>

where the HMAC (``security.sign_path``) covers ``/downloads/<kind>/<name>`` and ``expires`` under
the server secret. The base is ``settings.public_url`` or the base URL of the request; it is not
signed, so a server behind a proxy that rewrites the prefix still verifies its own links.

Storage is a small interface (``FileStorage``); ``LocalFileStorage`` keeps files under
``<data_dir>/files/<kind>/``. Publishing a file again refreshes its modification time, and
``prune`` deletes files nobody has published for longer than a link lives.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from rtk_sessions.errors import Forbidden, NotFound
from rtk_sessions.security import check_signed_path, sign_path

KINDS: tuple[str, ...] = ("chat", "transcript", "summary")

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}

_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def valid_name(kind: str, name: str) -> bool:
    return kind in KINDS and bool(_NAME.match(name)) and ".." not in name


class FileStorage(Protocol):
    """Where published files live."""

    def put(self, kind: str, name: str, data: bytes) -> None:
        """Store ``data``; an existing file of that name (same content) is kept and refreshed."""

    def get(self, kind: str, name: str) -> bytes | None:
        """The file, or None when there is none."""

    def prune(self, older_than: float) -> int:
        """Delete files last published before ``older_than`` (epoch seconds); returns how many."""


class LocalFileStorage:
    """Files in a local directory: ``<root>/<kind>/<name>``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, kind: str, name: str) -> Path:
        if not valid_name(kind, name):
            raise ValueError(f"invalid file name {kind}/{name}")
        return self.root / kind / name

    def put(self, kind: str, name: str, data: bytes) -> None:
        path = self._path(kind, name)
        if path.exists():
            os.utime(path)  # content-addressed: same name, same bytes; just mark it in use
            return
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, kind: str, name: str) -> bytes | None:
        try:
            return self._path(kind, name).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def prune(self, older_than: float) -> int:
        removed = 0
        for kind in KINDS:
            folder = self.root / kind
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    if path.stat().st_mtime < older_than:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed


def file_name(session_id: str, data: bytes, ext: str) -> str:
    """``<session id, unsafe characters replaced>.<20 hex of sha256(data)>.<ext>``."""
    stem = _UNSAFE.sub("_", session_id)[:64] or "file"
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:20]}.{ext}"


@dataclass
class Downloads:
    storage: FileStorage
    secret: bytes
    expiry_secs: int
    public_url: str | None = None

    def publish(
        self, kind: str, session_id: str, ext: str, data: bytes, *, base_url: str, now: datetime
    ) -> tuple[str, datetime]:
        """Store ``data`` and return a signed URL to it and the URL's expiry."""
        name = file_name(session_id, data, ext)
        self.storage.put(kind, name, data)
        return self.signed_url(kind, name, base_url=base_url, now=now)

    def signed_url(
        self, kind: str, name: str, *, base_url: str, now: datetime
    ) -> tuple[str, datetime]:
        expires = int(now.timestamp()) + self.expiry_secs
        path = f"/downloads/{kind}/{name}"
        query = urlencode({"expires": expires, "sig": sign_path(self.secret, path, expires)})
        base = (self.public_url or base_url).rstrip("/")
        return f"{base}{path}?{query}", datetime.fromtimestamp(expires, UTC)

    def open(
        self,
        kind: str,
        name: str,
        expires: str | None,
        sig: str | None,
        *,
        now: float | None = None,
    ) -> tuple[bytes, str]:
        """The file behind a signed URL and its media type.

        raises Forbidden (missing, tampered, foreign or expired signature), NotFound (a valid link
        to a file that has since been pruned).
        """
        if not expires or not sig or not valid_name(kind, name):
            raise Forbidden("Invalid download link")
        check_signed_path(
            self.secret,
            f"/downloads/{kind}/{name}",
            expires,
            sig,
            now=time.time() if now is None else now,
        )
        data = self.storage.get(kind, name)
        if data is None:
            raise NotFound("Download file no longer exists; request a new link")
        ext = name.rsplit(".", 1)[-1]
        return data, MEDIA_TYPES.get(ext, "application/octet-stream")


class ExpiredFilePruner:
    """Deletes download files not published for longer than a link lives (at most once a minute);
    the job runner calls it when idle."""

    def __init__(self, downloads: Downloads) -> None:
        self.downloads, self.last = downloads, 0.0

    def __call__(self) -> None:
        now = time.time()
        if now - self.last < 60:
            return
        self.last = now
        self.downloads.storage.prune(now - self.downloads.expiry_secs - 60)
