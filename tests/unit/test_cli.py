"""The sosbot command, run as a real process in a fresh folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

CSV_HEADER = "name,country,region,languages,working_groups,contacts,groups"


def sosbot(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SOSBOT_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = sosbot(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("sosbot ")


def test_init_creates_everything_and_is_idempotent(tmp_path: Path) -> None:
    first = sosbot(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    initialised = tmp_path
    key = initialised / "data" / "master.key"
    assert (initialised / "config.toml").exists()
    assert (initialised / "data" / "sosbot.db").exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((initialised / "data").stat().st_mode) == 0o700
    first_key, first_config = key.read_bytes(), (initialised / "config.toml").read_text()

    again = sosbot(initialised, "init")
    assert again.returncode == 0, again.stderr
    assert "left untouched" in again.stdout and "left as it is" in again.stdout
    assert key.read_bytes() == first_key
    assert (initialised / "config.toml").read_text() == first_config
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_check_on_the_generated_config(initialised: Path) -> None:
    # Every part works; only the advisory part says why `run` would refuse.
    result = sosbot(initialised, "check")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "config",
        "advisory",
        "secrets",
        "storage",
        "telegram",
        "matrix",
    ]
    assert lines[1].startswith("advisory: FAILED — no platform is enabled")
    assert all(": ok" in line for line in lines if not line.startswith("advisory"))


def test_check_names_a_missing_secret(initialised: Path) -> None:
    config = initialised / "config.toml"
    config.write_text(
        config.read_text().replace("[telegram]\nenabled = false", "[telegram]\nenabled = true")
    )
    result = sosbot(initialised, "check")
    assert result.returncode == 1
    assert "secrets: FAILED" in result.stdout
    assert "telegram.token_env" in result.stdout and "SOSBOT_TELEGRAM_TOKEN" in result.stdout


def test_check_with_a_wrong_key_fails_on_storage(initialised: Path) -> None:
    result = sosbot(
        initialised,
        "check",
        env={"SOSBOT_MASTER_KEY": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="},
    )
    assert result.returncode == 1
    assert "storage: FAILED" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_config_lookup_order(initialised: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "my.toml").write_text('[bot]\ndata_dri = "x"\n')
    by_env = sosbot(initialised, "check", env={"SOSBOT_CONFIG": str(elsewhere / "my.toml")})
    assert "'bot.data_dri'" in by_env.stderr and by_env.returncode == 1
    by_flag = sosbot(
        initialised,
        "--config",
        str(initialised / "config.toml"),
        "check",
        env={"SOSBOT_CONFIG": str(elsewhere / "my.toml")},
    )
    assert "storage: ok" in by_flag.stdout, by_flag.stderr


def test_rotate_key_then_audit_verify(initialised: Path) -> None:
    key = initialised / "data" / "master.key"
    before = key.read_bytes()
    rotated = sosbot(initialised, "rotate-key")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert key.read_bytes() != before
    assert not (initialised / "data" / "master.key.old").exists(), "the old key is deleted"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "storage: ok" in sosbot(initialised, "check").stdout
    verified = sosbot(initialised, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit log intact")


def test_a_missing_config_is_one_line(tmp_path: Path) -> None:
    result = sosbot(tmp_path, "run")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error in configuration at '(file)': no config file at config.toml; run 'sosbot init'"
    ]


def members_import(folder: Path, *rows: str) -> subprocess.CompletedProcess[str]:
    """``sosbot members import`` of a registry CSV: its header, then ``rows``."""
    path = folder / "members.csv"
    path.write_text("".join(f"{line}\n" for line in (CSV_HEADER, *rows)))
    return sosbot(folder, "members", "import", str(path))


def test_members_import_and_export(initialised: Path) -> None:
    imported = members_import(
        initialised,
        "Colectivo Tierra,Colombia,Americas,es,land,telegram:123456,telegram:-1001234567890",
        "Réseau Goma,DRC,Africa,fr,,matrix:@amani:example.org,matrix:!room:example.org",
    )
    assert imported.returncode == 0, imported.stderr
    assert "2 organisations" in imported.stdout
    exported = sosbot(initialised, "members", "export")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert lines[0] == "name,country,region,languages,working_groups,contacts,groups,kind"
    assert lines[1:] == [
        "Colectivo Tierra,Colombia,Americas,es,land,telegram:123456,telegram:-1001234567890,organisation",
        "Réseau Goma,DRC,Africa,fr,,matrix:@amani:example.org,matrix:!room:example.org,organisation",
    ]
    # The names never sit in the database file in clear.
    raw = b"".join(p.read_bytes() for p in (initialised / "data").glob("sosbot.db*"))
    assert b"Colectivo Tierra" not in raw and b"123456" not in raw


def test_a_csv_with_one_bad_row_imports_nothing_and_names_the_row(initialised: Path) -> None:
    result = members_import(
        initialised, "Colectivo Tierra,Colombia,Americas,es,,,", "Réseau Goma,DRC,Africa,de,,,"
    )
    assert result.returncode == 1
    assert "nothing imported" in result.stderr
    assert "row 2 (line 3), languages: 'de' is not one of en, es, fr, ar" in result.stderr
    exported = sosbot(initialised, "members", "export")
    assert exported.stdout.splitlines()[1:] == []
