""".env.example documents every setting of bot/settings.py, with no secrets and no stale names.

Credentials are uncommented and empty (`DISCORD_TOKEN=`); every other setting is a commented-out
line showing its default (`# USER_RATE=5`), so a copied .env changes nothing until edited.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings, settings_table

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
SETTING_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CLIENT_ID")


def _entries() -> list[tuple[str, str, bool]]:
    """(name, value, commented_out) for every NAME=value line, commented out or not."""
    entries = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING_LINE.match(line.strip())
        if match:
            entries.append((match[2], match[3], match[1] is not None))
    return entries


def test_every_setting_is_documented() -> None:
    names = [name for name, _, _ in _entries()]
    missing = [name for name in Settings.model_fields if name not in names]
    assert not missing, f".env.example lacks {missing}"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f".env.example lists {duplicates} more than once"


def test_no_stale_names() -> None:
    stale = [name for name, _, _ in _entries() if name not in Settings.model_fields]
    assert not stale, f".env.example lists settings that do not exist: {stale}"


def test_no_secret_values() -> None:
    for name, value, _ in _entries():
        if any(word in name for word in SECRET_WORDS) and not name.endswith(("_URL", "_BASE")):
            assert value.strip() == "", f"{name} has a value in .env.example"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    # Shapes of real credentials: a Discord token (three dot-separated base64 parts), a Telegram one.
    assert not re.search(r"[\w-]{20,}\.[\w-]{5,}\.[\w-]{20,}", text)
    assert not re.search(r"\d{6,}:[\w-]{30,}", text)


def test_each_setting_is_described_and_defaults_are_current() -> None:
    defaults = {name: default for name, default, _ in settings_table()}
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name, value, commented in _entries():
        if commented:
            assert value == defaults[name], f"{name}: .env.example shows {value!r}, the default is {defaults[name]!r}"
        else:
            assert value == "", f"{name} is set in .env.example; comment it out or leave it empty"
        at = next(i for i, line in enumerate(lines) if SETTING_LINE.match(line.strip()) and
                  SETTING_LINE.match(line.strip())[2] == name)
        above = lines[at - 1].strip() if at else ""
        assert above.startswith("#") and not SETTING_LINE.match(above), f"{name} has no description above it"


def test_the_example_loads_as_the_defaults(monkeypatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    from_example = Settings(_env_file=ENV_EXAMPLE)
    assert from_example.model_dump() == Settings(_env_file=None).model_dump()
