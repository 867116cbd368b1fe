"""Settings, read from ``RTK_*`` environment variables (documented in docs/configuration.md)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rtk_sessions.stats.issues import IssueThresholds


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rtk-sessions"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RTK_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite database, the server secret and download files live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy/libpq URL. Unset: SQLite file <data_dir>/rtk.db. "
        "postgresql://user@host:5432/db selects PostgreSQL (driver psycopg 3).",
    )
    secret_key: str | None = Field(
        default=None,
        description="HMAC secret for participant tokens and signed download URLs. Unset: generated "
        "on first start and kept in <data_dir>/secret.key.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL clients reach this server at, for download links "
        "(default: taken from the request).",
    )
    session_keep_alive_secs: int = Field(
        default=60, ge=0, description="Default keep-alive of meetings created implicitly."
    )
    peer_timeout_secs: float = Field(
        default=60.0, gt=0, description="A peer silent this long (server time) is taken as left."
    )
    sweep_interval_secs: float = Field(
        default=1.0, gt=0, description="How often the server ends idle sessions and stale peers."
    )
    ingest_max_events: int = Field(default=1000, ge=1, description="Most events in one batch.")
    ingest_concurrency: int = Field(
        default=3,
        ge=1,
        description="Ingestion batches a server process reads, parses and applies at once; more "
        "wait their turn (a 100-event batch of real reports, 1.2 MB of JSON, peaks at 18 MB "
        "while it is parsed and holds 4 MB after).",
    )
    sqlite_mmap_mb: int = Field(
        default=0,
        ge=0,
        description="SQLite: the memory map of the database file, per connection, in MB (PRAGMA "
        "mmap_size; 0: none, pages are read into the page cache). Each connection maps the file "
        "on its own and every mapped page counts in the process's resident set, so a process of "
        "15 connections can hold 15 times this: 64 took a worker to 250-300 MB under ingest and "
        "deep list pages of a large file, while list latencies were the same without it (the "
        "operating system caches the file either way).",
    )
    sqlite_cache_mb: int = Field(
        default=2,
        ge=1,
        description="SQLite: the page cache of each database connection, in MB (PRAGMA "
        "cache_size); a process has up to 15 connections (5, plus 10 under load). Pages beyond "
        "it are read from the operating system's cache, which this does not bound. With the "
        "defaults a worker peaked at 182 MB under 8 concurrent 100-event ingest clients then 200 "
        "list pages of a 420k-session file (8: 214 MB; bench/ingest_rss.py).",
    )
    retention_days: float = Field(
        default=30.0,
        gt=0,
        description="Raw sample rows older than this are deleted (whole daily partitions on "
        "PostgreSQL); sessions, participants and peer reports' cumulative blocks stay.",
    )
    download_expiry_secs: int = Field(
        default=3600, ge=1, description="Lifetime of signed chat/transcript/summary URLs."
    )
    participant_token_ttl_secs: int = Field(
        default=86400, ge=1, description="Lifetime of participant tokens."
    )
    summarizer: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="Summaries: 'extractive' (embedded, offline) or 'openai' (any "
        "OpenAI-compatible /chat/completions endpoint; needs openai_base_url and openai_model).",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible API, e.g. https://api.openai.com/v1.",
    )
    openai_model: str | None = Field(default=None, description="Model name sent to that API.")
    openai_api_key: str | None = Field(default=None, description="Bearer key for that API, if any.")
    openai_timeout_secs: float = Field(
        default=60.0, gt=0, description="Timeout of one summarizer request."
    )
    job_max_attempts: int = Field(
        default=5, ge=1, description="Attempts of a background job before it is marked failed."
    )
    job_backoff_secs: float = Field(
        default=5.0, gt=0, description="Wait before the first retry; doubled after each failure."
    )
    job_backoff_max_secs: float = Field(
        default=600.0, gt=0, description="Longest wait between retries."
    )
    job_lease_secs: float = Field(
        default=30.0,
        gt=0,
        description="A running job's lease, renewed while it runs; a job whose worker died is "
        "picked up again once its lease has run out.",
    )
    job_poll_secs: float = Field(
        default=1.0, gt=0, description="How often the job worker looks for work."
    )
    webhooks_allow_private_targets: bool = Field(
        default=False,
        description="Accept webhook URLs on loopback, private and link-local addresses (tests, "
        "a receiver on the same network). Off: such targets are refused at create and at send.",
    )
    webhooks_key_file: Path | None = Field(
        default=None,
        description="PEM file of the RSA private key that signs webhooks. Unset: generated on "
        "first start and kept in <data_dir>/webhooks.key (mode 0600). Several hosts must share it.",
    )
    webhooks_timeout_secs: float = Field(
        default=10.0, gt=0, description="Timeout of one webhook POST (connect + response)."
    )
    webhooks_backoff_secs: float = Field(
        default=10.0,
        gt=0,
        description="Wait before a webhook delivery's first retry; doubled "
        "after each failed attempt, plus up to 20% jitter.",
    )
    webhooks_backoff_max_secs: float = Field(
        default=3600.0, gt=0, description="Longest wait between two attempts of a delivery."
    )
    webhooks_disable_after: int = Field(
        default=15,
        ge=1,
        description="Failed attempts in a row (no success between them) after which a webhook is "
        "disabled; its undelivered events are kept and go out when it is enabled again.",
    )
    webhooks_poll_secs: float = Field(
        default=1.0, gt=0, description="How often the webhook worker looks for due deliveries."
    )
    webhooks_cache_secs: float = Field(
        default=5.0,
        ge=0,
        description="How long a process caches an app's webhook subscriptions (a webhook created "
        "through another process starts receiving events within this time).",
    )
    metrics: bool = Field(
        default=True,
        description="Serve Prometheus metrics at /metrics on the main port (false: no /metrics).",
    )

    issue_high_rtt_ms: float = Field(
        default=300.0, gt=0, description="Detected issue high_rtt: producer RTT at or above (ms)."
    )
    issue_packet_loss_pct: float = Field(
        default=2.0, gt=0, description="Detected issue packet_loss: interval loss at or above (%)."
    )
    issue_jitter_ms: float = Field(
        default=30.0, gt=0, description="Detected issue jitter: jitter at or above (ms)."
    )
    issue_jitter_buffer_ms: float = Field(
        default=200.0,
        gt=0,
        description="Detected issue jitter_buffer_delay: jitter-buffer delay at or above (ms).",
    )
    issue_concealment_events_per_s: float = Field(
        default=1.0,
        gt=0,
        description="Detected issue audio_concealment: concealment events per second at or above.",
    )
    issue_low_frame_rate_fps: float = Field(
        default=10.0, gt=0, description="Detected issue low_frame_rate: camera video fps below."
    )
    issue_low_resolution_height: int = Field(
        default=240,
        gt=0,
        description="Detected issue low_resolution: received camera frame height below (px).",
    )
    issue_limited_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Detected issues bandwidth_limited/cpu_limited: share of an interval limited.",
    )
    issue_warmup_s: float = Field(
        default=5.0, ge=0, description="Detected issues: a stream's first seconds not judged."
    )
    issue_min_duration_s: float = Field(
        default=2.0, ge=0, description="Detected issues: shortest range reported (s)."
    )
    issue_merge_gap_s: float = Field(
        default=5.0,
        ge=0,
        description="Detected issues: flagged samples this close are one range (s).",
    )
    issue_critical_factor: float = Field(
        default=2.0,
        ge=1,
        description="Detected issues: worst value this many times the threshold is critical.",
    )
    issue_critical_duration_s: float = Field(
        default=10.0, ge=0, description="Detected issues: a yes/no issue this long is critical (s)."
    )

    def issue_thresholds(self) -> IssueThresholds:
        """The ``RTK_ISSUE_*`` settings as ``stats.IssueThresholds``."""
        return IssueThresholds(
            high_rtt_ms=self.issue_high_rtt_ms,
            packet_loss_pct=self.issue_packet_loss_pct,
            jitter_ms=self.issue_jitter_ms,
            jitter_buffer_ms=self.issue_jitter_buffer_ms,
            concealment_events_per_s=self.issue_concealment_events_per_s,
            low_frame_rate_fps=self.issue_low_frame_rate_fps,
            low_resolution_height=self.issue_low_resolution_height,
            limited_share=self.issue_limited_share,
            warmup_s=self.issue_warmup_s,
            min_duration_s=self.issue_min_duration_s,
            merge_gap_s=self.issue_merge_gap_s,
            critical_factor=self.issue_critical_factor,
            critical_duration_s=self.issue_critical_duration_s,
        )

    @model_validator(mode="after")
    def _summarizer_complete(self) -> Settings:
        if self.summarizer == "openai" and not (self.openai_base_url and self.openai_model):
            raise ValueError("summarizer 'openai' needs RTK_OPENAI_BASE_URL and RTK_OPENAI_MODEL")
        return self

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL. For a SQLite file, its directory (mode 0700) and the file itself
        (0600, so SQLite's journal and WAL files get the same) are created here when missing."""
        url = normalize_database_url(
            self.database_url or f"sqlite:///{(self.data_dir / 'rtk.db').as_posix()}"
        )
        if url.startswith("sqlite:///") and ":memory:" not in url and "mode=memory" not in url:
            path = Path(url.removeprefix("sqlite:///").partition("?")[0])
            if path.parent == self.data_dir:
                self.ensure_data_dir()
            else:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # An empty file is a database. O_EXCL: an existing file is never opened here, since
            # closing any descriptor of a database file drops every POSIX lock this process's
            # SQLite connections hold on it (other processes could then checkpoint over them).
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return url

    def ensure_data_dir(self) -> Path:
        """``data_dir``, created with mode 0700 (it holds chat, transcripts and the secret). One
        created by an older version with group/other access is restricted to 0700 too."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = self.data_dir.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            self.data_dir.chmod(0o700)
        return self.data_dir

    def resolved_secret(self) -> bytes:
        """The server secret; generated and persisted (``<data_dir>/secret.key``, mode 0600) on
        first use when not configured. Processes starting together agree on one secret: each
        writes a candidate to its own temporary file and hard-links it into place, which succeeds
        for one of them only (like ``O_EXCL``) and never exposes a partly written file."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.ensure_data_dir()
            fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".secret-")  # mode 0600
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(48))
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):  # another process was first: use its
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        return path.read_text().strip().encode()


def normalize_database_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy driver URLs: ``postgresql://`` → ``postgresql+psycopg://``."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@cache
def get_settings() -> Settings:
    return Settings()
