"""The container (docs/deployment.md, "Container"): the image builds, runs as a non-root user,
answers /healthz, /readyz and /metrics and turns healthy; compose.yaml runs it on PostgreSQL 16.

Needs a Docker daemon (``docker info`` succeeds) and network access for the base images; skipped,
with the reason, where there is none."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def docker_missing() -> str | None:
    """Why Docker cannot be used here, or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 60 s"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker daemon (`docker info` exited {info.returncode}: {last})"
    return None


MISSING = docker_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def run(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout.strip()


def wait_for(url: str, status: int = 200, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == status:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer {status}"
        time.sleep(1)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    tag = f"rtk-sessions-test:{uuid.uuid4().hex[:8]}"
    run("docker", "build", "-t", tag, ".")
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


def test_image_runs_as_non_root_and_is_healthy(image: str) -> None:
    assert run("docker", "image", "inspect", "-f", "{{.Config.User}}", image) == "rtk"
    name = f"rtk-test-{uuid.uuid4().hex[:8]}"
    run("docker", "run", "-d", "--name", name, "-p", "127.0.0.1::8787", image)
    try:
        port = run("docker", "port", name, "8787/tcp").splitlines()[0].rsplit(":", 1)[1]
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/healthz").json() == {"status": "ok"}
        ready = wait_for(f"{base}/readyz").json()
        assert (ready["status"], ready["database"]) == ("ready", "sqlite")
        assert "rtk_http_requests_total" in httpx.get(f"{base}/metrics").text
        assert run("docker", "exec", name, "id", "-u") == "10001"
        assert run("docker", "exec", name, "stat", "-c", "%a %U", "/data") == "700 rtk"
        deadline = time.monotonic() + 120
        while run("docker", "inspect", "-f", "{{.State.Health.Status}}", name) != "healthy":
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(2)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120)


def test_compose_serves_with_its_database() -> None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    project = f"rtktest{uuid.uuid4().hex[:8]}"
    compose = ("docker", "compose", "-p", project, "-f", str(ROOT / "compose.yaml"))
    try:
        run(*compose, "up", "-d", "--build", "--wait", timeout=1200)
        port = run(*compose, "port", "rtk", "8787").rsplit(":", 1)[1]
        ready = wait_for(f"http://127.0.0.1:{port}/readyz").json()
        assert (ready["status"], ready["database"]) == ("ready", "postgresql")
    finally:
        subprocess.run([*compose, "down", "-v", "--rmi", "local"], capture_output=True, timeout=300)
