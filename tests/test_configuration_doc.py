"""docs/configuration.md is generated from the settings model and stays in step with it."""

from __future__ import annotations

from pathlib import Path

from rtk_sessions.cli.configuration import configuration_markdown
from rtk_sessions.config import Settings

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"
REGENERATE = ".venv/bin/python -m rtk_sessions.cli.configuration > docs/configuration.md"


def test_configuration_doc_is_current() -> None:
    assert DOC.read_text() == configuration_markdown(), f"out of date; regenerate: {REGENERATE}"


def test_every_setting_has_a_row_with_its_description() -> None:
    text = DOC.read_text()
    for name, field in Settings.model_fields.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `RTK_{name.upper()}`"))
        assert field.description and field.description.split()[0] in row, name


def test_bounds_and_choices_are_shown() -> None:
    text = DOC.read_text()
    assert "| `RTK_INGEST_MAX_EVENTS` | integer, ≥ 1 | `1000` |" in text
    assert "| `RTK_PEER_TIMEOUT_SECS` | number, > 0 | `60.0` |" in text
    assert "one of `extractive`, `openai`" in text
    assert "`RTK_LOG_FORMAT` | `rtk-sessions serve`" in text
