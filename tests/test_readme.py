"""The README promises what the code does: its settings table and its two Quickstart commands."""

import re

from bot.settings import settings_table
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_configuration_table_matches_the_settings():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| [^|]+ \| (.+) \|$", README, flags=re.MULTILINE))
    expected = {name: description for name, _, description in settings_table()}
    assert rows == expected


def test_quickstart_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    assert command in ci and command in README


def test_quickstart_console_command():
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python -m bot console" in README
