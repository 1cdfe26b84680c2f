"""The bot's configuration: environment variables, optionally from a `.env` file.

Load with `load_settings()`, which turns any bad value into a one-line `SettingsError` that
names the variable (and never shows a secret). Front ends call `require(settings, ...)` at
start for the credentials they need. `settings_table()` feeds the README and `.env.example`.

Set-valued variables (ADMIN_USER_IDS, IMAGE_CHANNEL_IDS) take a comma-separated list
("123,456") or a JSON array. An empty variable counts as unset.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as _PydanticSettingsError

# Same as bot.spotify's defaults (not imported: this module stays free of network libraries).
DEFAULT_SPOTIFY_API_BASE = "https://api.spotify.com/v1/"
DEFAULT_SPOTIFY_OEMBED_BASE = "https://open.spotify.com"
DEFAULT_SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"

DEFAULT_GENRE_EMOJIS = {"Country": "🤠", "Electronic": "🎛️", "HipHop": "🎤", "Pop": "🎵", "Rock": "🎸"}
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Settings that no longer exist, and what replaced them: an old .env still naming one gets a warning.
RETIRED = {"RETRAIN_TOLERANCE": "RETRAIN_ALPHA (a significance level for the paired test, default 0.05)"}

_WHERE = "put it in .env or the environment"
_HOW_TO_GET: dict[str, str] = {
    "DISCORD_TOKEN": "create a bot at https://discord.com/developers/applications and put its token in .env "
    "or the environment",
    "TELEGRAM_TOKEN": "create a bot with @BotFather (https://t.me/BotFather) and put its token in .env "
    "or the environment",
    "SPOTIFY_CLIENT_ID": "create an app at https://developer.spotify.com/dashboard and put its client ID in .env "
    "or the environment",
    "SPOTIFY_CLIENT_SECRET": "create an app at https://developer.spotify.com/dashboard and put its client secret "
    "in .env or the environment",
}


class SettingsError(ValueError):
    """The configuration is missing something or has a bad value; the message is safe to print."""


IdSet = Annotated[set[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
        validate_default=True,
    )

    # Credentials
    DISCORD_TOKEN: SecretStr | None = Field(None, description="Discord bot token (needed by the Discord front end).")
    TELEGRAM_TOKEN: SecretStr | None = Field(
        None, description="Telegram bot token from @BotFather (needed by the Telegram front end)."
    )
    SPOTIFY_CLIENT_ID: str | None = Field(
        None,
        description="Spotify app client ID. Optional: without it, Spotify links use oEmbed (cover and title only).",
    )
    SPOTIFY_CLIENT_SECRET: SecretStr | None = Field(
        None, description="Spotify app client secret, used together with SPOTIFY_CLIENT_ID."
    )

    # Storage and model
    DATA_DIR: Path = Field(Path("./data"), description="Where the database (predictions, votes, feature vectors; no images) and retrained models live.")
    MODEL_DIR: Path | None = Field(
        None,
        description="Model directory to use. Unset: the current model under DATA_DIR/models, "
        "else the model shipped with the bot.",
    )

    # Who and where
    ADMIN_USER_IDS: IdSet = Field(
        default_factory=set,
        description="User IDs allowed to run admin commands, comma-separated (e.g. 123,456). "
        "Admins' votes weigh ADMIN_VOTE_WEIGHT.",
    )
    IMAGE_CHANNEL_IDS: IdSet = Field(
        default_factory=set,
        description="Discord channel or Telegram group IDs, comma-separated, where every posted image is "
        "answered without mentioning the bot.",
    )

    # Load limits
    USER_RATE: int = Field(5, ge=0, description="Requests per user per minute (0: no limit).")
    CHANNEL_RATE: int = Field(20, ge=0, description="Requests per channel per minute (0: no limit).")
    MAX_CONCURRENT_PREDICTIONS: int = Field(2, ge=1, description="Predictions run at the same time.")
    MAX_QUEUE: int = Field(
        32, ge=0, description="Predictions waiting for a turn; beyond this the bot replies that it is busy."
    )
    MAX_CONCURRENT_FETCHES: int = Field(
        16, ge=1, description="Downloads and Spotify lookups in flight at once, apart from predictions; beyond this the bot replies that it is busy."
    )
    MAX_LINKS_PER_MESSAGE: int = Field(3, ge=1, description="Links answered per message; the rest are ignored.")
    IMAGE_MAX_BYTES: int = Field(
        15 * 1024 * 1024, gt=0, description="Largest image accepted (uploaded, downloaded or read from a file), in bytes."
    )
    FETCH_TIMEOUT: float = Field(10.0, gt=0, description="Seconds allowed for one download.")
    SPOTIFY_RETRY_AFTER_CAP: float = Field(
        5.0, ge=0, description="Longest Retry-After (seconds) waited for when Spotify rate-limits; longer fails."
    )
    SPOTIFY_CACHE_TTL: float = Field(3600.0, ge=0, description="Seconds a Spotify lookup is cached.")

    # Replies
    GENRE_EMOJIS: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_GENRE_EMOJIS),
        description="Reaction emoji per genre, as JSON; people vote by reacting with them.",
    )
    CONFIRM_EMOJI: str = Field("✅", min_length=1, description='Reaction meaning "the top guess is right".')
    UNSURE_MARGIN: float = Field(
        0.1, ge=0, le=1, description="When the top two genres are closer than this, the reply asks for a vote."
    )

    # Retraining and votes
    RETRAIN_INTERVAL: float = Field(24.0, ge=0, description="Hours between retraining checks (0: never retrain).")
    RETRAIN_MIN_NEW_VOTES: int = Field(20, ge=0, description="New votes needed since the last retrain before the periodic retrain runs.")
    RETRAIN_INCLUDE_SPOTIFY: bool = Field(
        False, description="Also train on voted covers that came from Spotify links. Off by default: Spotify's Developer Policy forbids training ML models on Spotify content."
    )
    RETRAIN_ALPHA: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A retrained model replaces the current one unless a paired test on the same covers "
        "(McNemar, exact) finds it worse at this significance level.",
    )
    NEW_GENRES: Literal["auto", "admin", "off"] = Field(
        "admin",
        description="Genres people vote for that the model does not know become new classes at the next retrain "
        "once NEW_GENRE_MIN_COVERS covers have them: auto, admin (after /genres approve NAME) or off.",
    )
    NEW_GENRE_MIN_COVERS: int = Field(25, ge=1, description="Distinct voted covers a new genre needs.")
    MIN_VOTES: int = Field(1, ge=1, description="Votes needed before a cover's label is used for training.")
    ADMIN_VOTE_WEIGHT: float = Field(1.0, gt=0, description="How many votes an admin's vote counts as.")
    KEEP_MODEL_VERSIONS: int = Field(5, ge=1, description="Trained model versions kept on disk.")
    DATA_RETENTION_DAYS: int | None = Field(
        None, ge=1, description="Days predictions and votes are kept (unset: forever)."
    )

    # Logging
    LOG_LEVEL: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    LOG_FORMAT: Literal["text", "json"] = Field("text", description="text (one line per event) or json.")

    # Endpoints (tests point these at a fake server)
    SPOTIFY_API_BASE: str = Field(DEFAULT_SPOTIFY_API_BASE, description="Spotify Web API base URL.")
    SPOTIFY_OEMBED_BASE: str = Field(DEFAULT_SPOTIFY_OEMBED_BASE, description="Spotify oEmbed base URL.")
    SPOTIFY_TOKEN_URL: str = Field(DEFAULT_SPOTIFY_TOKEN_URL, description="Spotify OAuth token URL.")

    _retired: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _note_retired(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Settings:
        # Unknown names are ignored (extra="ignore"): .env's reach here, the environment's do not.
        settings: Settings = handler(data)
        given = {str(name).upper() for name in data} if isinstance(data, dict) else set()
        given |= {name.upper() for name in os.environ}
        settings._retired = [name for name in RETIRED if name in given]
        return settings

    def retired_warnings(self) -> list[str]:
        """One line per retired setting still set, naming what replaced it."""
        return [f"{name} is no longer read; it was replaced by {RETIRED[name]}" for name in self._retired]

    @field_validator("ADMIN_USER_IDS", "IMAGE_CHANNEL_IDS", mode="before")
    @classmethod
    def _id_set(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("not a valid JSON array; use a comma-separated list like 123,456") from None
            else:
                return {part.strip() for part in text.split(",") if part.strip()}
        if isinstance(value, list | tuple | set | frozenset):
            return {str(item).strip() for item in value if str(item).strip()}
        return value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = value.strip().upper()
            level = "WARNING" if level == "WARN" else level
            if level not in LOG_LEVELS:
                raise ValueError(f"should be one of {', '.join(LOG_LEVELS)}")
            return level
        return value

    @field_validator("LOG_FORMAT", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("GENRE_EMOJIS")
    @classmethod
    def _emojis(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("needs at least one genre")
        if any(not emoji.strip() for emoji in value.values()):
            raise ValueError("every genre needs an emoji")
        if len(set(value.values())) != len(value):
            raise ValueError("two genres share an emoji")
        return value

    def require(self, *names: str) -> None:
        require(self, *names)

    def secret_values(self) -> list[str]:
        """Every secret a log line must never show, for `configure_logging(secrets=...)`.

        Includes the HTTP Basic credentials Spotify's token request sends (base64 of id:secret).
        """
        values = [
            secret.get_secret_value()
            for secret in (self.DISCORD_TOKEN, self.TELEGRAM_TOKEN, self.SPOTIFY_CLIENT_SECRET)
            if secret is not None and secret.get_secret_value()
        ]
        if self.SPOTIFY_CLIENT_ID and self.SPOTIFY_CLIENT_SECRET is not None:
            pair = f"{self.SPOTIFY_CLIENT_ID}:{self.SPOTIFY_CLIENT_SECRET.get_secret_value()}"
            values.append(base64.b64encode(pair.encode()).decode())
        return values


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env (`_env_file=None` skips the file; other keywords override).

    Raises SettingsError with one line per problem joined by "; ", naming each variable.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except _PydanticSettingsError as exc:
        # Raised when a JSON-valued variable (GENRE_EMOJIS) is not valid JSON.
        raise SettingsError(_describe_parse_error(str(exc))) from None


def require(settings: Settings, *names: str) -> None:
    """Raise SettingsError naming every one of `names` that is unset (None or empty)."""
    missing = []
    for name in names:
        if name not in Settings.model_fields:
            raise ValueError(f"unknown setting {name!r}")
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "" or value == set():
            missing.append(name)
    if missing:
        raise SettingsError("; ".join(f"{name} is not set: {_HOW_TO_GET.get(name, _WHERE)}" for name in missing))


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default as it would be written in .env, description) for every setting, in order."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        rows.append((name, _env_text(default), field.description or ""))
    return rows


def _env_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, set | frozenset | list | tuple):
        return ",".join(sorted(str(item) for item in value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, Path) and not value.is_absolute():
        return f"./{value}"
    return str(value)


def _describe(exc: ValidationError) -> str:
    problems = []
    seen: set[str] = set()
    for error in exc.errors(include_input=False, include_url=False):
        loc = error.get("loc") or ("?",)
        name = str(loc[0]).upper()
        detail = ".".join(str(part) for part in loc[1:])
        message = error.get("msg", "invalid value").removeprefix("Value error, ")
        key = f"{name}{detail}{message}"
        if key in seen:
            continue
        seen.add(key)
        where = f" (at {detail})" if detail else ""
        problems.append(f"{name}{where}: {message}")
    return "invalid configuration: " + "; ".join(problems)


def _describe_parse_error(text: str) -> str:
    # pydantic-settings says: error parsing value for field "GENRE_EMOJIS" from source "EnvSettingsSource"
    name = text.split('"')[1] if text.count('"') >= 2 else "a setting"
    return f"invalid configuration: {name}: not valid JSON"
