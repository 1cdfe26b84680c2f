from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import settings as settings_module
from bot.settings import Settings, SettingsError, load_settings, require, settings_table

TOKEN = "MTIzNDU2Nzg5.discord-token-value.abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's environment, and no stray .env is read."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings(_env_file=None)
    assert s.DISCORD_TOKEN is None and s.TELEGRAM_TOKEN is None and s.SPOTIFY_CLIENT_SECRET is None
    assert s.DATA_DIR == Path("./data") and s.MODEL_DIR is None
    assert s.ADMIN_USER_IDS == set() and s.IMAGE_CHANNEL_IDS == set()
    assert (s.USER_RATE, s.CHANNEL_RATE, s.MAX_CONCURRENT_PREDICTIONS, s.MAX_QUEUE) == (5, 20, 2, 32)
    assert s.MAX_LINKS_PER_MESSAGE == 3 and s.IMAGE_MAX_BYTES == 15 * 1024 * 1024
    assert s.GENRE_EMOJIS == {"Country": "🤠", "Electronic": "🎛️", "HipHop": "🎤", "Pop": "🎵", "Rock": "🎸"}
    assert s.CONFIRM_EMOJI == "✅" and s.UNSURE_MARGIN == 0.1
    assert s.RETRAIN_INTERVAL == 24 and s.RETRAIN_INCLUDE_SPOTIFY is False and s.RETRAIN_ALPHA == 0.05
    assert s.DATA_RETENTION_DAYS is None and s.LOG_LEVEL == "INFO" and s.LOG_FORMAT == "text"


def test_spotify_defaults_match_client() -> None:
    spotify = pytest.importorskip("bot.spotify")
    assert settings_module.DEFAULT_SPOTIFY_API_BASE == spotify.DEFAULT_API_BASE
    assert settings_module.DEFAULT_SPOTIFY_OEMBED_BASE == spotify.DEFAULT_OEMBED_BASE
    assert settings_module.DEFAULT_SPOTIFY_TOKEN_URL == spotify.DEFAULT_TOKEN_URL


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("USER_RATE", "7")
    monkeypatch.setenv("RETRAIN_INCLUDE_SPOTIFY", "true")
    monkeypatch.setenv("DATA_RETENTION_DAYS", "30")
    monkeypatch.setenv("GENRE_EMOJIS", '{"Jazz": "🎷", "Rock": "🎸"}')
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    s = load_settings(_env_file=None)
    assert isinstance(s.DISCORD_TOKEN, SecretStr) and s.DISCORD_TOKEN.get_secret_value() == TOKEN
    assert s.USER_RATE == 7 and s.RETRAIN_INCLUDE_SPOTIFY is True and s.DATA_RETENTION_DAYS == 30
    assert s.GENRE_EMOJIS == {"Jazz": "🎷", "Rock": "🎸"}
    assert s.LOG_LEVEL == "DEBUG" and s.LOG_FORMAT == "json"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123,456", {"123", "456"}),
        (" 123 , 456 ,", {"123", "456"}),
        ("123", {"123"}),
        ('["123", "456"]', {"123", "456"}),
        ("[123, 456]", {"123", "456"}),
    ],
)
def test_id_sets_accept_commas_and_json(monkeypatch: pytest.MonkeyPatch, raw: str, expected: set[str]) -> None:
    monkeypatch.setenv("ADMIN_USER_IDS", raw)
    monkeypatch.setenv("IMAGE_CHANNEL_IDS", raw)
    s = load_settings(_env_file=None)
    assert s.ADMIN_USER_IDS == expected and s.IMAGE_CHANNEL_IDS == expected


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    monkeypatch.setenv("DATA_RETENTION_DAYS", "")
    monkeypatch.setenv("ADMIN_USER_IDS", "")
    s = load_settings(_env_file=None)
    assert s.DISCORD_TOKEN is None and s.DATA_RETENTION_DAYS is None and s.ADMIN_USER_IDS == set()


def test_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "TELEGRAM_TOKEN=12345:telegram-secret\nADMIN_USER_IDS=1,2\nCHANNEL_RATE=9\nUNRELATED=x\n", encoding="utf-8"
    )
    monkeypatch.setenv("CHANNEL_RATE", "11")  # the environment wins over .env
    s = load_settings()  # default env_file=".env" in the working directory
    assert s.TELEGRAM_TOKEN is not None and s.TELEGRAM_TOKEN.get_secret_value() == "12345:telegram-secret"
    assert s.ADMIN_USER_IDS == {"1", "2"} and s.CHANNEL_RATE == 11
    assert load_settings(_env_file=None).TELEGRAM_TOKEN is None


def test_bad_values_become_one_line_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_RATE", "lots")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    monkeypatch.setenv("UNSURE_MARGIN", "2")
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert "\n" not in message
    assert "USER_RATE" in message and "LOG_FORMAT" in message and "UNSURE_MARGIN" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize(
    ("name", "raw"),
    [("LOG_LEVEL", "loud"), ("GENRE_EMOJIS", "{not json"), ("GENRE_EMOJIS", "{}"), ("ADMIN_USER_IDS", "[1,")],
)
def test_each_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, raw: str) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None)


def test_error_never_shows_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret pasted into the wrong (validated) variable must not be echoed back.
    monkeypatch.setenv("USER_RATE", TOKEN)
    monkeypatch.setenv("LOG_FORMAT", TOKEN)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_dump_and_repr_hide_secrets() -> None:
    s = Settings(
        _env_file=None,
        DISCORD_TOKEN=TOKEN,
        TELEGRAM_TOKEN="tg-secret-value",
        SPOTIFY_CLIENT_ID="client-id",
        SPOTIFY_CLIENT_SECRET="sp-secret-value",
    )
    for text in (repr(s), str(s), str(s.model_dump()), s.model_dump_json(), str(s.model_dump(mode="json"))):
        assert TOKEN not in text and "tg-secret-value" not in text and "sp-secret-value" not in text
    assert "client-id" in repr(s)


def test_secret_values_for_log_redaction() -> None:
    s = Settings(_env_file=None, DISCORD_TOKEN=TOKEN, SPOTIFY_CLIENT_ID="cid", SPOTIFY_CLIENT_SECRET="csecret")
    values = s.secret_values()
    assert TOKEN in values and "csecret" in values
    assert base64.b64encode(b"cid:csecret").decode() in values
    assert Settings(_env_file=None).secret_values() == []


def test_require_names_missing_variables() -> None:
    s = Settings(_env_file=None, TELEGRAM_TOKEN="tg-secret-value")
    require(s, "TELEGRAM_TOKEN")
    s.require("TELEGRAM_TOKEN")
    with pytest.raises(SettingsError) as info:
        require(s, "DISCORD_TOKEN")
    assert str(info.value).startswith("DISCORD_TOKEN is not set: ")
    assert "https://discord.com/developers/applications" in str(info.value)
    with pytest.raises(SettingsError) as info:
        s.require("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "TELEGRAM_TOKEN")
    message = str(info.value)
    assert "SPOTIFY_CLIENT_ID is not set" in message and "SPOTIFY_CLIENT_SECRET is not set" in message
    assert "TELEGRAM_TOKEN" not in message and "\n" not in message
    with pytest.raises(ValueError, match="unknown setting"):
        require(s, "NOPE")


def test_settings_table_covers_every_field() -> None:
    rows = settings_table()
    assert [row[0] for row in rows] == list(Settings.model_fields)
    assert all(description for _, _, description in rows)
    table = {name: default for name, default, _ in rows}
    assert table["DISCORD_TOKEN"] == "" and table["MODEL_DIR"] == "" and table["ADMIN_USER_IDS"] == ""
    assert table["DATA_DIR"] == "./data" and table["USER_RATE"] == "5" and table["LOG_FORMAT"] == "text"
    assert table["RETRAIN_INCLUDE_SPOTIFY"] == "false"
    assert table["GENRE_EMOJIS"].startswith('{"Country":"🤠"')


def test_table_defaults_load_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A .env.example written from the table, copied to .env, gives the defaults."""
    for name, default, _ in settings_table():
        monkeypatch.setenv(name, default)
    assert load_settings(_env_file=None).model_dump() == Settings(_env_file=None).model_dump()


def test_service_config_is_derived_from_settings() -> None:
    """Every ServiceConfig field but the test-only allow_private is a setting, with the setting's default."""
    from dataclasses import fields

    from bot.service.config import ServiceConfig

    names = {f.name for f in fields(ServiceConfig)} - {"allow_private"}
    assert {name.upper() for name in names} <= set(Settings.model_fields)
    defaults = load_settings(_env_file=None)
    assert ServiceConfig() == ServiceConfig.from_settings(defaults)
    changed = ServiceConfig.from_settings(load_settings(_env_file=None, USER_RATE=9, ADMIN_USER_IDS="1,2"))
    assert (changed.user_rate, changed.admin_user_ids) == (9, frozenset({"1", "2"}))


def test_a_retired_setting_in_dotenv_or_the_environment_is_named_with_its_replacement(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RETRAIN_TOLERANCE", raising=False)
    assert load_settings(_env_file=None).retired_warnings() == []
    env = tmp_path / "old.env"
    env.write_text("RETRAIN_TOLERANCE=0.01\n", encoding="utf-8")
    [warning] = load_settings(_env_file=env).retired_warnings()
    assert warning.startswith("RETRAIN_TOLERANCE is no longer read") and "RETRAIN_ALPHA" in warning
    monkeypatch.setenv("retrain_tolerance", "0.01")
    assert len(load_settings(_env_file=None).retired_warnings()) == 1
