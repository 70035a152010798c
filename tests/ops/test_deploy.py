"""deploy/sosbot.service: sandboxed as issue 18 asks, and valid for systemd."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers.fixtures import component_missing

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "sosbot.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_is_sandboxed_and_restarts() -> None:
    unit = directives()
    assert unit["User"] == ["sosbot"] and unit["Group"] == ["sosbot"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/sosbot"]  # the data folder, nothing else
    assert unit["PrivateTmp"] == ["yes"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"] == ["/opt/sosbot/.venv/bin/sosbot run"]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        component_missing("systemd-analyze is not installed (systemd)")
    # verify checks that ExecStart exists: point it at this checkout's Python.
    unit = tmp_path / "sosbot.service"
    unit.write_text(UNIT.read_text().replace("/opt/sosbot/.venv/bin/sosbot", sys.executable))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr
