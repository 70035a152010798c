"""scripts/dev/move_tests_layout.py rewrites by module-path rules, and a second run
changes nothing (the lead runs it again after merging branches that use old names).

move_tests_layout: keep (this file quotes the old names on purpose)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dev" / "move_tests_layout.py"

OLD_TEST_FILE = '''"""see tests/fakes/synapse.py and tests/plugins/"""
import tests.matrix.support
from tests.fakes import postgres as pg
from tests.fakes.telegram_api import FakeChat
from tests.plugins import components
from tests.support.harness import make_harness

pytest_plugins = ["tests.plugins.components"]
CHILD = ["-m", "tests.faults.support"]
'''


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("move_tests_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_old_module_names_map_to_the_new_layout_and_new_names_stay() -> None:
    move = script()
    assert move.map_module("tests.fakes.telegram_api") == "tests.fakes.telegram.server"
    assert move.map_module("tests.fakes.telegram_new") == "tests.fakes.telegram.new"
    assert move.map_module("tests.fakes.postgres") == "tests.servers.postgres"
    assert move.map_module("tests.support.harness") == "tests.harness.bot"
    assert move.map_module("tests.support.anything_new") == "tests.harness.anything_new"
    assert move.map_module("tests.plugins.components.in_ci") == "tests.servers.fixtures.in_ci"
    for new in ("tests.harness.bot", "tests.servers.fixtures", "tests.fakes.telegram.server"):
        assert move.map_module(new) == new
    assert move.map_module("tests.matrix.supported") == "tests.matrix.supported"


def test_a_file_it_never_saw_is_rewritten_once() -> None:
    move = script()
    once = move.rewrite_text(OLD_TEST_FILE, False)
    assert once == move.rewrite_text(once, False)
    assert "from tests.harness.bot import make_harness" in once
    assert "from tests.fakes.telegram.server import FakeChat" in once
    assert "from tests.servers import fixtures as components" in once
    assert "from tests.servers import postgres as pg" in once
    assert "import tests.matrix.peers" in once
    assert 'pytest_plugins = ["tests.servers.fixtures"]' in once
    assert '"tests.faults.processes"' in once
    assert "tests/servers/synapse.py and tests/servers/" in once


def test_this_tree_is_already_moved() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing to do", result.stdout
