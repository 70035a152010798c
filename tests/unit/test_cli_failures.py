"""Loud, clear failures: `run` refuses what cannot work, in one line and exit 1;
`check` gives a verdict for every part even after one failed (issue 18, item 5)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.servers.net import free_port
from tests.unit.test_cli import sosbot

ROOT = Path(__file__).resolve().parents[2]
TOKEN = {"SOSBOT_TELEGRAM_TOKEN": "123456:TEST-token-for-no-server-at-all"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|DEBUG) ")


def configure(folder: Path, telegram: str = "", advisory: str = "") -> None:
    config = folder / "config.toml"
    text = config.read_text()
    if telegram:
        text = text.replace("[telegram]\nenabled = false", "[telegram]\nenabled = true")
        text = re.sub(r'^base_url = "".*$', telegram, text, flags=re.M)
    if advisory:
        text = text.replace("[advisory]\n", f"[advisory]\n{advisory}\n")
        text = re.sub(r"^(rooms|advisors) = \[\] .*$", "", text, flags=re.M)
    config.write_text(text)


def failure_line(stderr: str) -> str:
    """The one line of the failure: everything else on stderr is an INFO log line."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, stderr
    return lines[0]


ADVISORY = 'rooms = ["telegram:-1001"]\nadvisors = ["telegram:42"]'


def test_run_with_no_platform_refuses(initialised: Path) -> None:
    result = sosbot(initialised, "run")
    assert result.returncode == 1
    assert failure_line(result.stderr).startswith(
        "run: no platform is enabled; set telegram.enabled"
    )


def test_run_with_an_enabled_platform_and_no_triage_room_refuses(initialised: Path) -> None:
    configure(initialised, telegram='base_url = "http://127.0.0.1:9/bot"')
    result = sosbot(initialised, "run", env=TOKEN)
    assert result.returncode == 1
    line = failure_line(result.stderr)
    assert "'advisory.rooms'" in line and "a report would reach nobody" in line


def test_run_with_rooms_but_no_advisor_refuses(initialised: Path) -> None:
    configure(
        initialised,
        telegram='base_url = "http://127.0.0.1:9/bot"',
        advisory='rooms = ["telegram:-1001"]',
    )
    result = sosbot(initialised, "run", env=TOKEN)
    assert result.returncode == 1
    assert "'advisory.advisors'" in failure_line(result.stderr)


def test_run_with_a_wrong_master_key_refuses_before_any_network(initialised: Path) -> None:
    port = free_port()
    configure(initialised, telegram=f'base_url = "http://127.0.0.1:{port}/bot"', advisory=ADVISORY)
    (initialised / "data" / "master.key").write_text(
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n"
    )
    result = sosbot(initialised, "run", env=TOKEN)
    assert result.returncode == 1
    line = failure_line(result.stderr)
    assert line.startswith("storage: The master key does not open this database")
    assert "Telegram" not in result.stderr  # refused before the first request


def test_run_with_a_missing_master_key_refuses(initialised: Path) -> None:
    configure(initialised, telegram='base_url = "http://127.0.0.1:9/bot"', advisory=ADVISORY)
    (initialised / "data" / "master.key").unlink()
    result = sosbot(initialised, "run", env=TOKEN)
    assert result.returncode == 1
    assert failure_line(result.stderr).startswith(
        "Error in configuration at 'crypto.master_key_file': no key file at"
    )


def test_run_with_telegram_unreachable_is_one_line_naming_the_host(initialised: Path) -> None:
    port = free_port()  # nothing listens there
    configure(initialised, telegram=f'base_url = "http://127.0.0.1:{port}/bot"', advisory=ADVISORY)
    result = sosbot(initialised, "run", env=TOKEN)
    assert result.returncode == 1
    line = failure_line(result.stderr)
    assert line == "run: cannot reach the Telegram Bot API at 127.0.0.1 (NetworkError)"
    assert "TEST-token" not in result.stdout + result.stderr


def test_check_gives_a_verdict_for_every_part_after_failures(initialised: Path) -> None:
    port = free_port()
    configure(initialised, telegram=f'base_url = "http://127.0.0.1:{port}/bot"')
    # No token, an empty advisory section, and a wrong key: three failures, six verdicts.
    wrong = {"SOSBOT_MASTER_KEY": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="}
    result = sosbot(initialised, "check", env=wrong)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    verdicts = [re.match(r"^(\w+): (ok|FAILED) — ", line) for line in result.stdout.splitlines()]
    assert all(verdicts), result.stdout
    assert [(m.group(1), m.group(2)) for m in verdicts if m] == [
        ("config", "ok"),
        ("advisory", "FAILED"),
        ("secrets", "FAILED"),
        ("storage", "FAILED"),
        ("telegram", "FAILED"),
        ("matrix", "ok"),
    ]
    # With the token, Telegram itself is tried even though storage failed.
    with_token = sosbot(initialised, "check", env={**wrong, **TOKEN})
    assert (
        "telegram: FAILED — cannot reach the Telegram Bot API at 127.0.0.1 (NetworkError)"
        in with_token.stdout.splitlines()
    )


def test_config_before_or_after_the_subcommand(
    initialised: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    config = str(initialised / "config.toml")
    before = sosbot(elsewhere, "--config", config, "check")
    after = sosbot(elsewhere, "check", "--config", config)
    assert before.stdout == after.stdout
    assert "config: ok" in after.stdout


def test_help_has_no_leftover_markup(tmp_path: Path) -> None:
    for args in (["--help"], ["run", "--help"], ["backup", "--help"]):
        result = sosbot(tmp_path, *args)
        assert result.returncode == 0
        assert "``" not in result.stdout and "%(" not in result.stdout, result.stdout


def test_the_licence_is_an_spdx_string() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "AGPL-3.0-or-later"
