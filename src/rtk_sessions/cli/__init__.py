"""The ``rtk-sessions`` command, one module per command group:

- ``serve``: migrations, then the API (cli/serve.py);
- ``db upgrade | downgrade | current``: the schema (cli/db.py);
- ``apps create | list`` and ``tokens create | list | revoke``: accounts (cli/apps.py,
  cli/tokens.py);
- ``import`` and ``prune``: recorded calls in, old raw samples out (cli/recordings.py);
- ``demo``: a real two-browser call against a running service (cli/demo.py);
- ``webhooks list | deliveries``: an app's webhooks and their delivery attempts (cli/webhooks.py).

Every user error is one line on stderr and a non-zero exit status (cli/common.py).
"""

from __future__ import annotations

from rtk_sessions.cli import apps, db, demo, recordings, serve, tokens, webhooks
from rtk_sessions.cli.common import main
from rtk_sessions.cli.serve import RedactCredentials, redact_credentials

__all__ = [
    "RedactCredentials",
    "apps",
    "db",
    "demo",
    "main",
    "recordings",
    "redact_credentials",
    "serve",
    "tokens",
    "webhooks",
]

main.add_command(webhooks.webhooks)
