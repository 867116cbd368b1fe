"""``rtk-sessions demo`` finds the server ``scripts/run`` started: scripts/run records its URL in
``demo.json`` in the data directory, beside the demo account, and ``demo`` reads it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from rtk_sessions.cli import main
from tests.servers import free_port, wait_until

ROOT = Path(__file__).parent.parent.parent
CHROMIUM = "/usr/bin/chromium"


def _save(data_dir: Path, url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo.json").write_text(
        json.dumps({"account_id": "acc", "app_id": "app", "token": "tok", "url": url})
    )


def test_demo_uses_the_recorded_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    _save(tmp_path, url)
    result = CliRunner().invoke(
        main, ["demo", "--chromium", sys.executable], env={"RTK_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot reach {url}:")


def test_demo_reads_scripts_run_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without RTK_DATA_DIR, ./data/demo.json (scripts/run's default, from the repository root)."""
    url = f"http://127.0.0.1:{free_port()}"
    _save(tmp_path / "data", url)
    monkeypatch.chdir(tmp_path)
    env = {"RTK_DATA_DIR": None, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    result = CliRunner().invoke(main, ["demo", "--chromium", sys.executable], env=env)
    assert result.exit_code == 1 and f"cannot reach {url}:" in result.stderr
    given = CliRunner().invoke(
        main, ["demo", "--chromium", sys.executable, "--url", "http://127.0.0.1:9"], env=env
    )
    assert "cannot reach http://127.0.0.1:9:" in given.stderr  # --url wins


def test_broken_demo_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text("[1, 2")
    result = CliRunner().invoke(
        main, ["demo", "--chromium", sys.executable], env={"RTK_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "demo.json is not JSON" in result.stderr


@pytest.mark.browser
def test_demo_after_scripts_run_on_another_port(tmp_path: Path) -> None:
    """The README's flow on a non-default port: ``PORT=… scripts/run``, then ``rtk-sessions demo``
    without options runs a real two-browser call against that server."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found: run scripts/install-chromium (as root)")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "RTK_DATA_DIR": str(tmp_path / "data")}
    env.pop("RTK_DATABASE_URL", None)
    log = tmp_path / "run.log"
    run = subprocess.Popen(
        [str(ROOT / "scripts/run")], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:

        def up() -> bool:
            if run.poll() is not None:
                raise AssertionError(f"scripts/run exited {run.returncode}:\n{log.read_text()}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success
            except httpx.TransportError:
                return False

        wait_until("scripts/run to serve", up, timeout=600)
        saved = json.loads((tmp_path / "data" / "demo.json").read_text())
        assert saved["url"] == f"http://127.0.0.1:{port}"
        done = subprocess.run(
            [sys.executable, "-m", "rtk_sessions", "demo", "--duration", "6"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "LIVE, peak 2 participants" in done.stdout and "ENDED" in done.stdout
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait(timeout=10)
