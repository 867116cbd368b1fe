"""Sending webhook deliveries from the outbox (``webhook_deliveries``; docs/webhooks.md).

* **Signing.** Each POST carries ``rtk-signature``: base64 of the RSA-SHA256 (PKCS#1 v1.5)
  signature over the exact body bytes, made with the server's webhook key (``SigningKey``: RSA
  2048, generated once into ``<data_dir>/webhooks.key``, mode 0600, or ``RTK_WEBHOOKS_KEY_FILE``).
  The public key is served at ``/.well-known/webhooks.json`` as ``{"public_key": "<PEM>"}``.
  Headers also carry ``rtk-delivery-id`` (unique per delivery, the same on its retries),
  ``rtk-event-id``, ``rtk-event`` and ``rtk-timestamp`` (Unix seconds when this attempt was sent).
* **Once across processes.** Every server process runs a ``WebhookWorker`` thread, but only the
  holder of the webhook lock sends (a PostgreSQL advisory lock, or a ``flock`` beside the SQLite
  file: the mechanism of ``leader.py``), so a delivery is in flight from one process at a time.
* **Order.** The deliveries of one webhook and one session (``order_key``) go out one at a time
  in outbox order: a later one waits while an earlier one is pending. Up to 8 webhooks are served
  in parallel, so a slow receiver holds up only its own webhook.
* **Retries.** A non-2xx answer, a timeout or a connection error is a failed attempt; the
  delivery is retried after ``backoff_secs * 2**(attempts-1)`` (at most ``backoff_max_secs``),
  times a random factor in [1, 1.2). Each attempt is logged in ``webhook_attempts`` before the
  POST (so an attempt cut off by a crash is visible) and completed after it. A webhook whose
  attempts fail ``disable_after`` times in a row is disabled (``enabled: false``); its pending
  deliveries stay and go out in order once it is enabled again. Redirects are not followed.
* **At least once.** A delivery is marked delivered only after a 2xx answer; a process killed
  between the answer and that commit sends it again after restart (same ``rtk-delivery-id``).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import random
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func, make_url, select, update

from rtk_sessions import __version__
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.domain import webhooks
from rtk_sessions.leader import AdvisoryLock, AlwaysLeader, FileLock, Lock, lock_key, sqlite_path
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookRow
from rtk_sessions.workers import WorkerContext

log = logging.getLogger("rtk_sessions.webhooks")

WEBHOOKS_KEY = lock_key("webhooks")
BATCH = 200  # pending deliveries looked at per round


# ---- the signing key -------------------------------------------------------------------------


class SigningKey:
    """The RSA key that signs webhook bodies."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.public_pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> str:
        """base64 of the RSA-SHA256 (PKCS#1 v1.5) signature of ``body``."""
        signature = self.private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in ``path``; generated there first (mode 0600) when missing. Processes starting
        together agree on one key (written to a temporary file and hard-linked into place, as the
        server secret)."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".webhooks-key-")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        return cls.load(path)


# ---- the lock --------------------------------------------------------------------------------


def webhooks_lock(url: str, *, interval_secs: float) -> Lock:
    """Who sends webhooks for the database at ``url``: one process at a time."""
    if make_url(url).get_backend_name() == "postgresql":
        return AdvisoryLock(url, WEBHOOKS_KEY, idle_timeout_secs=max(30.0, 5 * interval_secs))
    path = sqlite_path(url)
    if path is None:
        return AlwaysLeader()
    return FileLock(path.with_name(path.name + ".webhooks.lock"))


# ---- the worker ------------------------------------------------------------------------------


@dataclass
class DeliverySettings:
    timeout_secs: float = 10.0
    backoff_secs: float = 10.0
    backoff_max_secs: float = 3600.0
    disable_after: int = 15
    poll_secs: float = 1.0
    allow_private: bool = False
    concurrency: int = 8  # webhooks served at once
    retention_days: float = 30.0  # delivered deliveries are deleted this long after delivery


def retry_delay(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones; ``jitter`` in [0, 1)."""
    return float(min(cap, base * 2.0 ** max(0, attempts - 1)) * (1 + 0.2 * jitter))


@dataclass
class _Due:
    seq: int
    id: str
    event_id: str
    event: str
    body: str
    attempts: int
    webhook_id: str
    url: str
    order_key: str


class WebhookWorker:
    """A thread that sends due deliveries while this process holds the webhook lock."""

    def __init__(
        self,
        db: Database,
        key: SigningKey,
        settings: DeliverySettings,
        *,
        lock: Lock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db, self.key, self.settings = db, key, settings
        self.lock = lock or webhooks_lock(db.url, interval_secs=settings.poll_secs)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.client = httpx.Client(
            timeout=settings.timeout_secs,
            follow_redirects=False,
            transport=transport,
            headers={"user-agent": f"rtk-sessions-webhooks/{__version__}"},
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtk-webhooks", daemon=True)
        self._next_prune = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        self.client.close()

    def dispose(self) -> None:
        """Release what a worker that never started holds (``background=False``)."""
        self.lock.dispose()
        self.client.close()

    def notify(self) -> None:
        self._wake.set()

    # ---- one round (public for tests) --------------------------------------------------------

    def due(self, now: datetime) -> list[_Due]:
        """The head (oldest pending delivery) of each (webhook, session) line of an enabled
        webhook, when it is due; at most ``BATCH``, oldest first. A long backlog of one webhook
        or one session does not hide the others' heads."""
        heads = (
            select(func.min(WebhookDeliveryRow.seq))
            .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
            .where(WebhookDeliveryRow.status == webhooks.PENDING, WebhookRow.enabled.is_(True))
            .group_by(WebhookDeliveryRow.webhook_id, WebhookDeliveryRow.order_key)
        )
        with self.db.unit_of_work(write=False) as s:
            rows = s.execute(
                select(
                    WebhookDeliveryRow.seq,
                    WebhookDeliveryRow.id,
                    WebhookDeliveryRow.event_id,
                    WebhookDeliveryRow.event,
                    WebhookDeliveryRow.body,
                    WebhookDeliveryRow.attempts,
                    WebhookRow.id,
                    WebhookRow.url,
                    WebhookDeliveryRow.order_key,
                )
                .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
                .where(
                    WebhookDeliveryRow.seq.in_(heads),
                    WebhookDeliveryRow.next_attempt_at <= now,
                )
                .order_by(WebhookDeliveryRow.seq)
                .limit(BATCH)
            ).all()
        return [_Due(*row) for row in rows]

    def next_in_line(self, item: _Due) -> _Due | None:
        """The line's next pending delivery after ``item`` was delivered, when it is due and its
        webhook still enabled."""
        with self.db.unit_of_work(write=False) as s:
            row = s.execute(
                select(
                    WebhookDeliveryRow.seq,
                    WebhookDeliveryRow.id,
                    WebhookDeliveryRow.event_id,
                    WebhookDeliveryRow.event,
                    WebhookDeliveryRow.body,
                    WebhookDeliveryRow.attempts,
                    WebhookRow.id,
                    WebhookRow.url,
                    WebhookDeliveryRow.order_key,
                    WebhookDeliveryRow.next_attempt_at,
                )
                .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
                .where(
                    WebhookDeliveryRow.webhook_id == item.webhook_id,
                    WebhookDeliveryRow.order_key == item.order_key,
                    WebhookDeliveryRow.status == webhooks.PENDING,
                    WebhookRow.enabled.is_(True),
                )
                .order_by(WebhookDeliveryRow.seq)
                .limit(1)
            ).first()
        if row is None:
            return None
        seq, id_, event_id, event, body, attempts, webhook_id, url, order_key, at = row
        if at > utc_now():
            return None
        return _Due(seq, id_, event_id, event, body, attempts, webhook_id, url, order_key)

    def run_once(self) -> int:
        """Send the due heads of all lines; returns how many were due. Webhooks are served in
        parallel (up to ``concurrency``), each one's deliveries one at a time, a line going on
        with its next delivery while they succeed, so a slow or dead receiver delays only its own
        webhook. After a failed attempt the rest of that webhook's round is skipped: a dead
        receiver is not hammered."""
        due = self.due(utc_now())
        by_webhook: dict[str, list[_Due]] = {}
        for item in due:
            by_webhook.setdefault(item.webhook_id, []).append(item)

        def serve(items: list[_Due]) -> None:
            for head in items:
                item: _Due | None = head
                while item is not None:  # the line goes on while its deliveries succeed
                    if self._stop.is_set() or not self.send(item):
                        return
                    item = self.next_in_line(item)

        if len(by_webhook) <= 1 or self.settings.concurrency <= 1:
            for items in by_webhook.values():
                serve(items)
        else:
            workers = min(self.settings.concurrency, len(by_webhook))
            with ThreadPoolExecutor(workers, thread_name_prefix="rtk-webhooks-send") as pool:
                for future in [pool.submit(serve, items) for items in by_webhook.values()]:
                    future.result()
        return len(due)

    def send(self, item: _Due) -> bool:
        """One attempt of one delivery, logged before and after; True when it was delivered."""
        attempt = item.attempts + 1
        started = utc_now()
        with self.db.unit_of_work() as s:
            row = WebhookAttemptRow(
                delivery_seq=item.seq,
                attempt=attempt,
                started_at=started,
                worker=self.worker_id[:100],
            )
            s.add(row)
            s.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.seq == item.seq)
                .values(attempts=attempt)
            )
            s.flush()
            attempt_id = row.id
        status, error = self._post(item, started)
        ok = status is not None and 200 <= status < 300
        now = utc_now()
        with self.db.unit_of_work() as s:
            s.execute(
                update(WebhookAttemptRow)
                .where(WebhookAttemptRow.id == attempt_id)
                .values(finished_at=now, status_code=status, error=error)
            )
            delivery = s.get(WebhookDeliveryRow, item.seq)
            hook = s.get(WebhookRow, item.webhook_id, with_for_update=True)
            if delivery is None or hook is None:  # deleted meanwhile
                return ok
            delivery.last_status_code = status
            delivery.last_error = error
            if ok:
                delivery.status = webhooks.DELIVERED
                delivery.delivered_at = now
                hook.consecutive_failures = 0
                return True
            delay = retry_delay(
                attempt,
                self.settings.backoff_secs,
                self.settings.backoff_max_secs,
                random.random(),
            )
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            hook.consecutive_failures += 1
            if hook.enabled and hook.consecutive_failures >= self.settings.disable_after:
                hook.enabled = False
                hook.disabled_reason = (
                    f"disabled after {hook.consecutive_failures} failed delivery attempts in a "
                    f"row; last: {error or status}"
                )[:1000]
                hook.updated_at = now
                webhooks.invalidate(s, hook.app_id)
                log.warning("webhook %s disabled: %s", hook.id, hook.disabled_reason)
        return False

    def _post(self, item: _Due, started: datetime) -> tuple[int | None, str | None]:
        if not self.settings.allow_private:
            problem = webhooks.target_problem(item.url, allow_private=False)
            if problem is not None:
                return None, problem
        body = item.body.encode()
        headers = {
            "content-type": "application/json",
            "rtk-signature": self.key.sign(body),
            "rtk-delivery-id": item.id,
            "rtk-event-id": item.event_id,
            "rtk-event": item.event,
            "rtk-timestamp": str(int(started.timestamp())),
        }
        try:
            response = self.client.post(item.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, f"timed out after {self.settings.timeout_secs:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:1000]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        host = urlsplit(item.url).hostname
        return response.status_code, f"HTTP {response.status_code} from {host}"

    def prune(self) -> int:
        """Delete deliveries delivered more than ``retention_days`` ago (``RTK_RETENTION_DAYS``)."""
        before = utc_now() - timedelta(days=self.settings.retention_days)
        with self.db.unit_of_work() as s:
            return webhooks.prune_delivered(s, before=before)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                worked = 0
                try:
                    if self.lock.acquire():
                        if time.monotonic() >= self._next_prune:
                            self._next_prune = time.monotonic() + 3600.0
                            self.prune()
                        worked = self.run_once()
                except Exception:
                    log.exception("webhook delivery round failed")
                if worked:
                    continue
                self._wake.wait(self.settings.poll_secs)
                self._wake.clear()
        finally:
            self.lock.dispose()


def settings_of(config: Settings) -> DeliverySettings:
    """``DeliverySettings`` from the service settings (their ``webhooks_*`` fields)."""
    return DeliverySettings(
        timeout_secs=config.webhooks_timeout_secs,
        backoff_secs=config.webhooks_backoff_secs,
        backoff_max_secs=config.webhooks_backoff_max_secs,
        disable_after=config.webhooks_disable_after,
        poll_secs=config.webhooks_poll_secs,
        allow_private=config.webhooks_allow_private_targets,
        retention_days=config.retention_days,
    )


def signing_key(config: Settings) -> SigningKey:
    """``RTK_WEBHOOKS_KEY_FILE``, or ``<data_dir>/webhooks.key`` (created on first use)."""
    if config.webhooks_key_file is not None:
        return SigningKey.load(config.webhooks_key_file)
    config.ensure_data_dir()
    return SigningKey.load_or_create(config.data_dir / "webhooks.key")


def build_worker(ctx: WorkerContext) -> WebhookWorker:
    """The delivery worker of one application (registered in ``rtk_sessions.app`` as
    ``webhooks``, so it is ``app.state.webhooks``), and its signing key on
    ``app.state.webhook_key``."""
    webhooks.configure_cache(ctx.db.engine, ctx.settings.webhooks_cache_secs)
    key = signing_key(ctx.settings)
    ctx.state.webhook_key = key
    return WebhookWorker(ctx.db, key, settings_of(ctx.settings))
