"""Configuration: docs/spec.md §9 parsed into frozen, typed objects.

``parse_config`` is pure: TOML text, the folder it came from and an
environment in, a ``Config`` out, or a ``ConfigError`` naming the key at
fault ("Error in configuration at 'matrix.homeserver': …"). Secrets never
sit in the file: the file names the environment variable or the file that
holds each one, and ``load_secrets`` reads them.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bot import config_casework
from bot.config_casework import CaseworkSection
from handlers.ids import is_address
from storage.records import LANGUAGES

MASTER_KEY_ENV = "SOSBOT_MASTER_KEY"
MASTER_KEY_BYTES = 32


class ConfigError(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Error in configuration at '{path}': {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class BotSection:
    data_dir: Path = Path("data")
    default_language: str = "en"


@dataclass(frozen=True)
class StorageSection:
    url: str = "sqlite+aiosqlite:///data/sosbot.db"


@dataclass(frozen=True)
class CryptoSection:
    master_key_file: Path = Path("data/master.key")


@dataclass(frozen=True)
class TelegramSection:
    enabled: bool = False
    token_env: str = "SOSBOT_TELEGRAM_TOKEN"
    token_file: Path | None = None
    base_url: str = ""
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1:8443"
    messages_per_second: float = 30.0
    group_messages_per_minute: float = 20.0
    private_messages_per_second: float = 1.0


@dataclass(frozen=True)
class MatrixSection:
    enabled: bool = False
    homeserver: str = "https://matrix.example.org"
    user_id: str = "@sosbot:example.org"
    password_env: str = "SOSBOT_MATRIX_PASSWORD"
    password_file: Path | None = None
    store_dir: Path = Path("data/matrix")
    device_name: str = "sosbot"


@dataclass(frozen=True)
class AdvisorySection:
    rooms: tuple[str, ...] = ()
    advisors: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # "platform:id=Display Name", shown instead of ids
    escalation: tuple[str, ...] = ()
    allow_content_in_unencrypted_rooms: bool = False
    digest_time: str = "08:00"  # UTC, HH:MM
    emergency_contact: str = ""


@dataclass(frozen=True)
class EscalationSection:
    immediate: int = 15
    days: int = 120
    weeks: int = 1440


@dataclass(frozen=True)
class AppealsSection:
    approvals_required: int = 2
    reminder_hours_before_deadline: int = 24


@dataclass(frozen=True)
class RetentionSection:
    closed_case_days: int = 180
    draft_hours: int = 24


@dataclass(frozen=True)
class DefenderSection:
    """What keeps the defender informed and in control (issue 15)."""

    checkin_grace_minutes: int = 30  # a check-in unanswered this long alerts the rooms
    conversation_minutes: int = 30  # after /ask, how long everything goes to the rooms
    reopen_days: int = 30  # a closed case can be reopened with /update this long


@dataclass(frozen=True)
class LimitsSection:
    """Per-account abuse limits (docs/spec.md §7)."""

    messages_per_minute: int = 30
    reports_per_day: int = 10
    max_text_chars: int = 8000
    max_attachment_bytes: int = 10_000_000
    max_attachments_per_report: int = 10


@dataclass(frozen=True)
class MonitoringSection:
    """Optional Prometheus endpoint; empty ``listen`` turns it off."""

    listen: str = ""


@dataclass(frozen=True)
class Config:
    bot: BotSection = field(default_factory=BotSection)
    storage: StorageSection = field(default_factory=StorageSection)
    crypto: CryptoSection = field(default_factory=CryptoSection)
    telegram: TelegramSection = field(default_factory=TelegramSection)
    matrix: MatrixSection = field(default_factory=MatrixSection)
    advisory: AdvisorySection = field(default_factory=AdvisorySection)
    escalation: EscalationSection = field(default_factory=EscalationSection)
    appeals: AppealsSection = field(default_factory=AppealsSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    defender: DefenderSection = field(default_factory=DefenderSection)
    monitoring: MonitoringSection = field(default_factory=MonitoringSection)
    casework: CaseworkSection = field(default_factory=CaseworkSection)
    source: Path | None = None


@dataclass(frozen=True)
class Secrets:
    master_key: bytes = field(repr=False)
    telegram_token: str | None = field(default=None, repr=False)
    matrix_password: str | None = field(default=None, repr=False)


MAX_INT = 2**31 - 1
# Durations far beyond any use overflow date arithmetic (a retention of a
# million days reaches before year 1): each has a ceiling of its own.
MAX_DURATIONS = {
    "retention.closed_case_days": 36_500,  # 100 years
    "retention.draft_hours": 87_600,  # 10 years
    "escalation.immediate": 525_600,  # minutes: a year
    "escalation.days": 525_600,
    "escalation.weeks": 525_600,
    "appeals.reminder_hours_before_deadline": 87_600,
}


def _describe(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


def _coerce(path: str, annotation: Any, value: Any, base_dir: Path) -> Any:
    """Check one value against its annotation; wrong types are errors, not guesses."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = next(a for a in typing.get_args(annotation) if a is not type(None))
        return _coerce(path, inner, value, base_dir)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, f"expected a list of strings, got {_describe(value)}")
        return tuple(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {_describe(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, got {_describe(value)}")
        if value <= 0:
            raise ConfigError(path, f"expected a positive integer, got {value}")
        ceiling = MAX_DURATIONS.get(path, MAX_INT)
        if value > ceiling:
            raise ConfigError(path, f"expected at most {ceiling}, got {value}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, f"expected a number, got {_describe(value)}")
        if not 0 < value <= MAX_INT:  # NaN fails this too
            raise ConfigError(path, f"expected a positive number up to {MAX_INT}, got {value}")
        return float(value)
    if annotation is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(path, f"expected a path, got {_describe(value)}")
        if "\0" in value:
            raise ConfigError(path, "a path cannot hold a NUL character")
        return (base_dir / value).resolve()
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {_describe(value)}")
        return value
    raise AssertionError(f"unsupported annotation {annotation!r}")  # pragma: no cover


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _type_hints(cls: type[Any]) -> dict[str, Any]:
    """A section's annotations, evaluated once: ``get_type_hints`` compiles every
    string annotation again on each call, a third of a parse (read, never changed)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _section(cls: type[Any], path: str, table: Any, base_dir: Path) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table, got {_describe(table)}")
    hints = _type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if name in table:
            values[name] = _coerce(f"{path}.{name}", hints[name], table[name], base_dir)
        elif spec.default is not MISSING and isinstance(spec.default, Path):
            values[name] = (base_dir / spec.default).resolve()
    return cls(**values)


def _sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file's folder."""
    prefix, sep, db_path = url.partition(":///")
    if not sep or not db_path or db_path.startswith("/") or db_path == ":memory:":
        return url
    return f"{prefix}:///{(base_dir / db_path).resolve()}"


def _check_address_list(path: str, values: tuple[str, ...]) -> None:
    for value in values:
        platform, sep, ident = value.partition(":")
        if not sep or platform not in ("telegram", "matrix", "web") or not ident:
            raise ConfigError(path, f"expected platform:id (telegram:… or matrix:…), got {value!r}")
        if not is_address(platform, ident):
            raise ConfigError(
                path,
                f"{value!r} is not a {platform} account or room (Matrix: @user:server, "
                f"!room:server, !<43 characters> of room version 12, or #alias:server)",
            )


def advisor_names(advisory: AdvisorySection) -> dict[str, str]:
    """``advisory.names`` as address → display name; every address must be an advisor."""
    names: dict[str, str] = {}
    for entry in advisory.names:
        address, sep, name = entry.partition("=")
        if not sep or not name.strip():
            raise ConfigError("advisory.names", f"expected platform:id=Name, got {entry!r}")
        if address.strip() not in advisory.advisors:
            raise ConfigError("advisory.names", f"{address.strip()!r} is not in advisory.advisors")
        names[address.strip()] = name.strip()
    return names


def _validate(config: Config) -> None:
    if config.bot.default_language not in LANGUAGES:
        raise ConfigError(
            "bot.default_language",
            f"expected one of {', '.join(LANGUAGES)}, got {config.bot.default_language!r}",
        )
    url = config.storage.url
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "storage.url", "expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL"
        )
    if config.matrix.enabled:
        parsed = urlparse(config.matrix.homeserver)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError("matrix.homeserver", "expected an http(s):// URL")
        if parsed.hostname.endswith("example.org"):
            raise ConfigError(
                "matrix.homeserver", "still the example value; set your homeserver's URL"
            )
        if not config.matrix.user_id.startswith("@") or ":" not in config.matrix.user_id:
            raise ConfigError("matrix.user_id", "expected a Matrix user id like @bot:server")
        if config.matrix.user_id.endswith(":example.org"):
            raise ConfigError("matrix.user_id", "still the example value; set the bot's user id")
    if config.telegram.webhook_url and not config.telegram.webhook_url.startswith("https://"):
        raise ConfigError("telegram.webhook_url", "Telegram posts only to an https:// URL")
    _host, sep, port = config.telegram.webhook_listen.rpartition(":")
    if not sep or not _ascii_number(port) or not 0 < int(port) < 65536:
        raise ConfigError("telegram.webhook_listen", "expected host:port, e.g. 127.0.0.1:8443")
    if config.telegram.base_url and not config.telegram.base_url.startswith(
        ("http://", "https://")
    ):
        raise ConfigError("telegram.base_url", "expected an http(s):// URL or an empty string")
    for name in ("rooms", "advisors", "escalation"):
        values = getattr(config.advisory, name)
        _check_address_list(f"advisory.{name}", values)
        enabled_example = [
            v
            for v in values
            if v.endswith(":example.org") and getattr(config, v.split(":")[0]).enabled
        ]
        if enabled_example:
            raise ConfigError(f"advisory.{name}", f"still the example value {enabled_example[0]!r}")
    advisor_names(config.advisory)  # raises ConfigError on a bad entry
    for name in ("checkin_grace_minutes", "conversation_minutes", "reopen_days"):
        if getattr(config.defender, name) < 1:
            raise ConfigError(f"defender.{name}", "expected a whole number of at least 1")
    if config.monitoring.listen:
        _host, sep, port = config.monitoring.listen.rpartition(":")
        if not sep or not _host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("monitoring.listen", "expected host:port, e.g. 127.0.0.1:9464")
    hh, sep, mm = config.advisory.digest_time.partition(":")
    ok = sep and _ascii_number(hh) and _ascii_number(mm)
    if not (ok and len(hh) <= 2 and len(mm) == 2 and int(hh) < 24 and int(mm) < 60):
        raise ConfigError("advisory.digest_time", "expected HH:MM (UTC)")
    config_casework.validate(config.casework, ConfigError)


def _ascii_number(text: str) -> bool:
    """ASCII digits only: "²" and "８" pass ``isdigit`` but are no port or hour."""
    return bool(text) and text.isascii() and text.isdecimal()


def parse_config(text: str, base_dir: Path, source: Path | None = None) -> Config:
    """Parse and validate TOML text; relative paths are relative to ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise ConfigError("(file)", "not valid TOML: nested too deeply") from None
    hints = _type_hints(Config)
    sections = {f.name for f in fields(Config) if f.name != "source"}
    for key in data:
        if key not in sections:
            raise ConfigError(key, f"unknown section (known: {', '.join(sorted(sections))})")
    values = {name: _section(hints[name], name, data.get(name, {}), base_dir) for name in sections}
    config = Config(**values, source=source)
    config = _with_storage_url(config, _sqlite_url(config.storage.url, base_dir))
    _validate(config)
    return config


def _with_storage_url(config: Config, url: str) -> Config:
    from dataclasses import replace

    return replace(config, storage=replace(config.storage, url=url))


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("(file)", f"no config file at {path}; run 'sosbot init'") from None
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # saved in another encoding: one line, not a traceback
        raise ConfigError(
            "(file)", f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    return parse_config(text, path.resolve().parent, source=path.resolve())


def find_config(explicit: str | None, environ: Mapping[str, str]) -> Path:
    """``--config``, else ``$SOSBOT_CONFIG``, else ``./config.toml``."""
    if explicit:
        return Path(explicit)
    if environ.get("SOSBOT_CONFIG"):
        return Path(environ["SOSBOT_CONFIG"])
    return Path("config.toml")


def _secret(path: str, env_name: str, file: Path | None, environ: Mapping[str, str]) -> str:
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(path, f"cannot read secret file {file}: {exc.strerror}") from None
        if not value:
            raise ConfigError(path, f"secret file {file} is empty")
        return value
    value = environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(path, f"environment variable {env_name} is not set")
    return value


def decode_master_key(path: str, text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(path, "the master key is not valid base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ConfigError(path, f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key


def read_master_key(config: Config, environ: Mapping[str, str]) -> bytes:
    """The master key from ``$SOSBOT_MASTER_KEY``, else the key file (mode 0600)."""
    if environ.get(MASTER_KEY_ENV):
        return decode_master_key(MASTER_KEY_ENV, environ[MASTER_KEY_ENV])
    path = config.crypto.master_key_file
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            "crypto.master_key_file", f"no key file at {path}; run 'sosbot init'"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            "crypto.master_key_file",
            f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600",
        )
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise ConfigError(
            "crypto.master_key_file", f"{path} is not a key file (not ASCII)"
        ) from None
    except OSError as exc:
        raise ConfigError("crypto.master_key_file", f"cannot read {path}: {exc.strerror}") from None
    return decode_master_key("crypto.master_key_file", text)


def load_secrets(config: Config, environ: Mapping[str, str] | None = None) -> Secrets:
    env = os.environ if environ is None else environ
    token = password = None
    if config.telegram.enabled:
        token = _secret(
            "telegram.token_file" if config.telegram.token_file else "telegram.token_env",
            config.telegram.token_env,
            config.telegram.token_file,
            env,
        )
    if config.matrix.enabled:
        password = _secret(
            "matrix.password_file" if config.matrix.password_file else "matrix.password_env",
            config.matrix.password_env,
            config.matrix.password_file,
            env,
        )
    return Secrets(read_master_key(config, env), token, password)
