"""The README stays true: every setting is documented, and every CLI command it lists exists."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rtk_sessions.cli import main
from rtk_sessions.config import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    """The README points to docs/configuration.md, which tests/test_configuration_doc.py keeps in
    step with the settings model."""
    assert "(docs/configuration.md)" in README
    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`RTK_{name.upper()}`" not in doc]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_every_command_in_the_readme_exists() -> None:
    commands = set(re.findall(r"^rtk-sessions ([a-z]+(?: [a-z]+)?)", README, flags=re.MULTILINE))
    assert {
        "serve",
        "import",
        "demo",
        "apps create",
        "apps list",
        "tokens create",
        "tokens list",
        "tokens revoke",
        "db downgrade",
    } <= commands
    for command in commands:
        result = CliRunner().invoke(main, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)
