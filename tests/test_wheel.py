"""What the wheel ships: the service, its migrations, the browser collector and the demo's call
page; none of the test tooling (tests/support: the impaired-network forwarder and namespaces, the
fake ingestion server, the call analysis, the webrtc-internals recorder).

Built with ``pip wheel --no-deps`` (pip is in every venv; the build backend comes from the
index like any ``pip install``) from a copy of the project files, so the worktree gets no
``build/`` directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rtk_sessions"


def build_wheel(out: Path) -> Path:
    project = out / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(out / "dist"),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = (out / "dist").glob("rtk_sessions-*.whl")
    return wheel


def test_the_wheel_ships_the_service_and_no_test_tooling(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = sorted(n for n in z.namelist() if ".dist-info/" not in n)
        total = sum(i.file_size for i in z.infolist())
    print(f"{wheel.name}: {len(names)} files, {total} bytes uncompressed")
    print("\n".join(names))

    assert all(n.startswith("rtk_sessions/") for n in names), names
    # every module of the source tree, and nothing else, is in it
    sources = sorted(
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert sorted(n for n in names if n.endswith(".py")) == sources
    # the data the service and the demo need at run time
    for needed in (
        "rtk_sessions/migrations/env.py",
        "rtk_sessions/migrations/script.py.mako",
        "rtk_sessions/migrations/versions/0001_initial_schema.py",
        "rtk_sessions/collector/rtk-collector.js",
        "rtk_sessions/collector/rtk-collector.mjs",
        "rtk_sessions/livecall/call.html",
        "rtk_sessions/livecall/__init__.py",
        "rtk_sessions/py.typed",
    ):
        assert needed in names, needed
    # no test tooling
    for banned in (
        "/netem/",
        "forwarder",
        "fake_ingest",
        "internals_dump",
        "livecall/analyze",
        "livecall/__main__",
        "conftest",
    ):
        assert not [n for n in names if banned in n], banned
