"""Operator input: every mistake is one line naming it and exit 1, never a traceback."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_config, read_master_key
from handlers.registry import MemberEntry, RegistryFileError, parse_csv, to_csv
from tests.harness.bot import Harness
from tests.unit.test_cli import sosbot

BASE = Path("/srv/sosbot")
HEADER = "name,country,region,languages,working_groups,contacts,groups"


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, BASE)
    return caught.value


def test_deeply_nested_toml() -> None:
    assert "nested" in str(config_error("a = " + "[" * 100_000))


@pytest.mark.parametrize("value", ["²8:00", "٠٨:٠٠", "08:³0", "0８:00"])
def test_digest_time_takes_ascii_digits_only(value: str) -> None:
    error = config_error(f'[advisory]\ndigest_time = "{value}"')
    assert "advisory.digest_time" in str(error)


@pytest.mark.parametrize("value", ["127.0.0.1:８４４３", "127.0.0.1:84²3", "127.0.0.1:٨٠"])
def test_webhook_listen_takes_ascii_digits_only(value: str) -> None:
    assert "telegram.webhook_listen" in str(config_error(f'[telegram]\nwebhook_listen = "{value}"'))


def test_a_nul_in_a_path() -> None:
    assert "bot.data_dir" in str(config_error('[bot]\ndata_dir = "da\\u0000ta"'))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("retention", "closed_case_days"),
        ("retention", "draft_hours"),
        ("escalation", "immediate"),
        ("appeals", "reminder_hours_before_deadline"),
        ("limits", "max_text_chars"),
    ],
)
@pytest.mark.parametrize("value", [10**6, 10**30])
def test_huge_numbers(section: str, key: str, value: int) -> None:
    if value == 10**6 and section == "limits":
        return  # a million characters is a legitimate (if odd) limit
    assert f"{section}.{key}" in str(config_error(f"[{section}]\n{key} = {value}"))


def test_a_key_file_that_is_not_ascii(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    key.write_text("clé\n", encoding="utf-8")
    os.chmod(key, 0o600)
    config = parse_config(f'[crypto]\nmaster_key_file = "{key}"', tmp_path)
    with pytest.raises(ConfigError) as caught:
        read_master_key(config, {})
    assert "crypto.master_key_file" in str(caught.value)


def test_a_csv_cell_over_the_csv_modules_limit() -> None:
    text = HEADER + "\n" + '"' + "x" * 131_073 + '",CO,Americas,es,,,\n'
    with pytest.raises(RegistryFileError) as caught:
        parse_csv(text)
    assert "row 1" in str(caught.value.errors[0]) or "longer" in str(caught.value.errors[0])


def test_a_semicolon_separated_csv() -> None:
    with pytest.raises(RegistryFileError) as caught:
        parse_csv(HEADER.replace(",", ";") + "\nTierra;CO;Americas;es;;;\n")
    assert "';'" in str(caught.value.errors[0]) and "','" in str(caught.value.errors[0])


def test_formulas_are_neutralised_on_export_and_read_back() -> None:
    entries = [
        MemberEntry(
            '=HYPERLINK("http://x")', "organisation", "+CO", "-1", ("es",), ("@wg",), (), ()
        )
    ]
    exported = to_csv(entries)
    cells = next(iter(csv.reader(io.StringIO(exported.split("\n", 1)[1]))))
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert parse_csv(exported) == entries


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    """Found by the config property: a config saved as Latin-1 gave a traceback."""
    (tmp_path / "config.toml").write_bytes('[bot]\ndata_dir = "données"\n'.encode("latin-1"))
    for command in ("init", "check"):
        result = sosbot(tmp_path, command)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "not UTF-8" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_members_import_of_bad_files(tmp_path: Path) -> None:
    assert sosbot(tmp_path, "init").returncode == 0
    for name, text in {
        "huge.csv": HEADER + '\n"' + "x" * 131_073 + '",CO,Americas,es,,,\n',
        "semi.csv": HEADER.replace(",", ";") + "\nTierra;CO;Americas;es;;;\n",
    }.items():
        (tmp_path / name).write_text(text)
        result = sosbot(tmp_path, "members", "import", name)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr


def test_cli_refuses_a_demo_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "SOSBOT-DEMO").touch()
    for command in ("init", "check"):
        result = sosbot(tmp_path, command)
        assert result.returncode == 1, result.stdout
        assert "demo" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


async def test_the_signatories_export_neutralises_formulas(bot: Harness) -> None:
    from handlers.appeals import export_files
    from tests.handlers.test_appeals import TIERRA_GROUP, ready_appeal, say, seed
    from tests.harness.bot import ALICE, drain_outbox

    await seed(bot)
    org = await bot.db.members.upsert_organisation("=cmd|'/c calc'!A1", country="@CO", region="-")
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    await drain_outbox(bot)
    await bot.db.appeals.sign(ref, org.id, "telegram:1")
    assert TIERRA_GROUP
    table = (await export_files(bot.services, ref))[0][1].decode()
    for row in csv.reader(io.StringIO(table)):
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row), row
