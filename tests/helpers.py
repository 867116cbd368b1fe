"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant


def ingest_url(tenant: Tenant) -> str:
    return (
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/ingest"
    )


def post_events(
    tenant: Tenant, events: list[dict[str, Any]], *, token: str | None = None, expect: int = 200
) -> httpx.Response:
    """POST a batch to the live server's ingestion endpoint and check the status."""
    response = httpx.post(
        ingest_url(tenant),
        json={"events": events},
        headers={"Authorization": f"Bearer {token or tenant.token}"},
        timeout=30,
    )
    assert response.status_code == expect, response.text
    return response
