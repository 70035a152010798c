"""Every kind of configuration error names its key in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_secrets, parse_config

EXAMPLE = (Path(__file__).parents[2] / "config.example.toml").read_text()


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/srv/sosbot"))
    return caught.value


def test_the_example_parses_with_platforms_off_and_paths_resolved() -> None:
    config = parse_config(EXAMPLE, Path("/srv/sosbot"))
    assert not config.telegram.enabled and not config.matrix.enabled
    assert config.bot.data_dir == Path("/srv/sosbot/data")
    assert config.storage.url == "sqlite+aiosqlite:////srv/sosbot/data/sosbot.db"
    assert config.escalation.immediate == 15
    assert config.appeals.approvals_required == 2


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ('[bot]\ndefault_langage = "es"\n', "bot.default_langage", "unknown key"),
        ("[telegramm]\nenabled = true\n", "telegramm", "unknown section"),
        ('[escalation]\nimmediate = "15"\n', "escalation.immediate", "expected an integer"),
        ("[escalation]\nimmediate = 0\n", "escalation.immediate", "positive"),
        ("[telegram]\nenabled = 1\n", "telegram.enabled", "true or false"),
        ('[advisory]\nrooms = "matrix:!a:b"\n', "advisory.rooms", "list of strings"),
        ('[advisory]\nrooms = ["triage"]\n', "advisory.rooms", "platform:id"),
        ('[advisory]\nrooms = ["matrix:!short"]\n', "advisory.rooms", "room version 12"),
        ('[advisory]\nadvisors = ["matrix:ana"]\n', "advisory.advisors", "@user:server"),
        ('[bot]\ndefault_language = "de"\n', "bot.default_language", "en, es, fr, ar"),
        ('[storage]\nurl = "mysql://x"\n', "storage.url", "postgresql+asyncpg"),
        ("[matrix]\nenabled = true\n", "matrix.homeserver", "example value"),
        (
            '[matrix]\nenabled = true\nhomeserver = "https://m.ngo.net"\n',
            "matrix.user_id",
            "example value",
        ),
        (
            '[matrix]\nenabled = true\nhomeserver = "ftp://m.ngo.net"\n',
            "matrix.homeserver",
            "http(s)",
        ),
        ('[advisory]\ndigest_time = "25:00"\n', "advisory.digest_time", "HH:MM"),
        ("[bot\n", "(file)", "not valid TOML"),
    ],
)
def test_errors_name_the_key(text: str, path: str, words: str) -> None:
    error = error_of(text)
    assert error.path == path
    assert words in str(error)
    assert str(error).startswith(f"Error in configuration at '{path}': ")
    assert "\n" not in str(error)


V12_ROOM = "!" + "Ab3_-" * 8 + "xyz"  # room version 12: 43 characters, no server part


def test_room_ids_of_every_room_version_are_accepted() -> None:
    text = (
        f'[advisory]\nrooms = ["matrix:{V12_ROOM}", "matrix:!old:ngo.net", '
        '"matrix:#triage:ngo.net", "telegram:-100123"]\n'
        'advisors = ["matrix:@ana:ngo.net", "telegram:42"]\n'
    )
    config = parse_config(text, Path("/srv/sosbot"))
    assert config.advisory.rooms[0] == f"matrix:{V12_ROOM}"
    assert len(V12_ROOM) == 44


def _enabled(tmp_path: Path) -> str:
    key = tmp_path / "master.key"
    key.write_text("A" * 43 + "=\n")
    key.chmod(0o600)
    return (
        f'[crypto]\nmaster_key_file = "{key}"\n'
        "[telegram]\nenabled = true\n"
        '[matrix]\nenabled = true\nhomeserver = "https://m.ngo.net"\nuser_id = "@bot:ngo.net"\n'
    )


def test_missing_secrets_name_the_key(tmp_path: Path) -> None:
    config = parse_config(_enabled(tmp_path), tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_secrets(config, {})
    assert caught.value.path == "telegram.token_env"
    assert "SOSBOT_TELEGRAM_TOKEN is not set" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_secrets(config, {"SOSBOT_TELEGRAM_TOKEN": "123:abc"})
    assert caught.value.path == "matrix.password_env"
    secrets = load_secrets(
        config, {"SOSBOT_TELEGRAM_TOKEN": "123:abc", "SOSBOT_MATRIX_PASSWORD": "pw"}
    )
    assert secrets.telegram_token == "123:abc" and secrets.matrix_password == "pw"
    assert "123:abc" not in repr(secrets) and "pw'" not in repr(secrets)


def test_secret_files_are_read_and_an_empty_one_is_an_error(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("\n")
    text = _enabled(tmp_path).replace(
        "[telegram]\nenabled = true\n", f'[telegram]\nenabled = true\ntoken_file = "{token}"\n'
    )
    config = parse_config(text, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_secrets(config, {"SOSBOT_MATRIX_PASSWORD": "pw"})
    assert caught.value.path == "telegram.token_file" and "empty" in str(caught.value)
    token.write_text("42:secret\n")
    assert load_secrets(config, {"SOSBOT_MATRIX_PASSWORD": "pw"}).telegram_token == "42:secret"


def test_master_key_problems(tmp_path: Path) -> None:
    config = parse_config(f'[crypto]\nmaster_key_file = "{tmp_path}/k"\n', tmp_path)
    with pytest.raises(ConfigError, match="run 'sosbot init'"):
        load_secrets(config, {})
    (tmp_path / "k").write_text("A" * 43 + "=\n")
    (tmp_path / "k").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_secrets(config, {})
    (tmp_path / "k").chmod(0o600)
    assert load_secrets(config, {}).master_key == bytes(32)
    with pytest.raises(ConfigError) as caught:
        load_secrets(config, {"SOSBOT_MASTER_KEY": "not base64!"})
    assert caught.value.path == "SOSBOT_MASTER_KEY"
    with pytest.raises(ConfigError, match="32 bytes"):
        load_secrets(config, {"SOSBOT_MASTER_KEY": "AAAA"})


def test_cli_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[bot]\ndata_dri = "data"\n')
    env = {**os.environ, "SOSBOT_CONFIG": str(config)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error in configuration at 'bot.data_dri': unknown key (known: data_dir, default_language)"
    ]
    assert "Traceback" not in result.stderr + result.stdout
