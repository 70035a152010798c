"""docs/deployment.md: its commands are ones the CLI accepts and the tests run,
its config snippets parse, and the README links it (issue 18, item 1)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deployment.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
# The tests that run each command as a real process.
TESTED_IN = [
    *sorted((ROOT / "tests" / "ops").glob("test_*.py")),
    ROOT / "tests" / "unit" / "test_cli.py",
    ROOT / "tests" / "unit" / "test_cli_failures.py",
]


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE) if lang == language]


def sosbot_commands() -> list[list[str]]:
    commands = []
    for body in blocks("sh"):
        for line in body.replace("\\\n", " ").splitlines():  # continued lines joined
            for part in re.split(r"&&|;", line):
                words = shlex.split(part)
                if words and (words[0] == "sosbot" or words[0].endswith("/bin/sosbot")):
                    commands.append(words[1:])
    return commands


def test_the_guide_has_the_commands_an_operator_needs() -> None:
    used = {args[0] if not args[0].startswith("-") else args[2] for args in sosbot_commands()}
    assert {"init", "check", "discover", "backup", "restore", "members"} <= used


@pytest.mark.parametrize("args", sosbot_commands(), ids=" ".join)
def test_each_command_in_the_guide_is_accepted_and_tested(args: list[str]) -> None:
    parsed = _parser().parse_args(args)
    tests = "\n".join(path.read_text() for path in TESTED_IN)
    assert f'"{parsed.command}"' in tests, f"no test runs `sosbot {parsed.command}`"


@pytest.mark.parametrize("body", blocks("toml"))
def test_each_config_snippet_parses(body: str, tmp_path: Path) -> None:
    parse_config(body, tmp_path)


def test_the_readme_links_the_guide_and_the_csv_format() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/deployment.md)" in readme and "(docs/members-csv.md)" in readme
    assert "useradd --system --home-dir /var/lib/sosbot --shell /usr/sbin/nologin sosbot" in GUIDE
    assert "cp /opt/sosbot/deploy/sosbot.service /etc/systemd/system/" in GUIDE
