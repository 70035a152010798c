#!/usr/bin/env python3
"""Move the test helpers into a layout whose names say what each holds.

    python scripts/dev/move_tests_layout.py          # move and rewrite
    python scripts/dev/move_tests_layout.py --check  # say what it would do, change nothing

The layout it makes (issue 19, item 5):

    tests/servers/          real servers the tests start: postgres.py, synapse.py,
                            net.py (free ports) and fixtures.py, the pytest plugin
                            (was tests/fakes/{postgres,synapse,net}.py, tests/plugins/)
    tests/fakes/telegram/   the fake Telegram Bot API, one package: server.py (HTTP),
                            world.py, state.py, methods.py, messages.py, objects.py
                            (was tests/fakes/telegram_*.py)
    tests/harness/          the whole bot in memory: bot.py (``Harness``), messenger.py
                            (was tests/support/)
    per-folder helpers      named for what they hold: broadcast/lane_doubles.py,
                            casework/reports.py, demo/constants.py, faults/processes.py,
                            matrix/peers.py, ops/deployment.py (were fakes.py/support.py)

Why a script and not a commit: other branches add tests while this one moves
the files, so the move is re-run on main after they merge. It therefore works
from *module path rules*, not from a list of files:

* every ``.py`` file under tests/ whose module name a rule maps is moved
  (``git mv`` when tracked), so a helper someone adds to tests/support/ moves too;
* every file under tests/, bench/, docs/, scripts/ (but this one) and the
  README has its module names (``tests.support.harness``, also inside strings
  such as ``pytest_plugins`` and ``python -m`` arguments) and file paths
  (``tests/fakes/postgres.py``) rewritten by the same rules, and
  ``from tests.plugins import components`` becomes
  ``from tests.servers import fixtures as components``;
* ruff then re-sorts the imports of the files it changed;
* a file with the marker ``move_tests_layout: keep`` is left alone.

It is idempotent: no rule's result matches any rule, so a second run finds
nothing to move and nothing to rewrite (``--check`` then prints "nothing to do").
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()

# Telegram fake modules whose new name is not just the old one without "telegram_".
_TELEGRAM = {"api": "server", "types": "objects"}

# (pattern on a dotted module name, replacement); the first that matches wins.
# A pattern matches a whole module name or a prefix of one ending at a dot.
RULES: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (
        r"tests\.fakes\.telegram_(\w+)",
        lambda m: f"tests.fakes.telegram.{_TELEGRAM.get(m[1], m[1])}",
    ),
    (r"tests\.fakes\.(postgres|synapse|net)", r"tests.servers.\1"),
    (r"tests\.plugins\.components", "tests.servers.fixtures"),
    (r"tests\.plugins", "tests.servers"),
    (r"tests\.support\.harness", "tests.harness.bot"),
    (r"tests\.support", "tests.harness"),
    (r"tests\.broadcast\.fakes", "tests.broadcast.lane_doubles"),
    (r"tests\.casework\.support", "tests.casework.reports"),
    (r"tests\.demo\.support", "tests.demo.constants"),
    (r"tests\.faults\.support", "tests.faults.processes"),
    (r"tests\.matrix\.support", "tests.matrix.peers"),
    (r"tests\.ops\.support", "tests.ops.deployment"),
]
_COMPILED = [(re.compile(rf"{pattern}(?=$|\.)"), repl) for pattern, repl in RULES]

# Packages the move creates, with the docstring of their __init__.py.
NEW_PACKAGES = {
    "tests/fakes/telegram": '"""The fake Telegram Bot API, for the real python-telegram-bot."""\n',
    "tests/servers": '"""Real servers the tests start (PostgreSQL, Synapse), their fixtures."""\n',
    "tests/harness": '"""The whole bot in memory, and the in-memory messenger it is wired to."""\n',
}

# A file holding this marker is left as it is (the script's own test quotes old names).
KEEP = "move_tests_layout: " + "keep"

# Where module names and paths are rewritten.
REWRITE_DIRS = ("tests", "bench", "docs", "scripts")
REWRITE_FILES = ("README.md", "pyproject.toml")
REWRITE_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt"}


def map_module(name: str) -> str:
    """The new dotted name of module ``name`` (itself when no rule maps it)."""
    for pattern, repl in _COMPILED:
        match = pattern.match(name)
        if match:
            new = repl(match) if callable(repl) else match.expand(repl)
            return new + name[match.end() :]
    return name


def _check_rules_are_idempotent() -> None:
    samples = [
        "tests.fakes.telegram_api",
        "tests.fakes.telegram_types",
        "tests.fakes.telegram_new",
        "tests.fakes.postgres",
        "tests.plugins.components",
        "tests.plugins.other",
        "tests.support.harness",
        "tests.support.messenger",
        "tests.broadcast.fakes",
        "tests.casework.support",
        "tests.demo.support",
        "tests.faults.support",
        "tests.matrix.support",
        "tests.ops.support",
    ]
    for old in samples:
        new = map_module(old)
        if new == old or map_module(new) != new:
            raise SystemExit(f"rule error: {old} -> {new} -> {map_module(new)}")


# --- moving files --------------------------------------------------------------------


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts)


def _path_of(module: str, is_init: bool) -> Path:
    parts = module.split(".")
    if is_init:
        parts.append("__init__")
    return ROOT.joinpath(*parts).with_suffix(".py")


def _tracked(path: Path) -> bool:
    result = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(path)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def planned_moves() -> list[tuple[Path, Path]]:
    """(old, new) for every file under tests/ that a rule maps."""
    moves: list[tuple[Path, Path]] = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        is_init = path.name == "__init__.py"
        module = _module_of(path.parent if is_init else path)
        new = map_module(module)
        if new != module:
            moves.append((path, _path_of(new, is_init)))
    return moves


def move(old: Path, new: Path, dry: bool) -> None:
    rel_old, rel_new = old.relative_to(ROOT), new.relative_to(ROOT)
    if new.exists():
        if old.read_bytes() == new.read_bytes() or (
            old.name == "__init__.py" and not old.read_text().strip()
        ):
            print(f"remove {rel_old} (already at {rel_new})")
            if not dry:
                _remove(old)
            return
        raise SystemExit(f"both {rel_old} and {rel_new} exist and differ: merge them by hand")
    print(f"move {rel_old} -> {rel_new}")
    if dry:
        return
    new.parent.mkdir(parents=True, exist_ok=True)
    if _tracked(old):
        subprocess.run(["git", "mv", str(rel_old), str(rel_new)], cwd=ROOT, check=True)
    else:
        old.rename(new)


def _remove(path: Path) -> None:
    if _tracked(path):
        subprocess.run(["git", "rm", "-q", "-f", str(path.relative_to(ROOT))], cwd=ROOT, check=True)
    else:
        path.unlink()


def make_packages(dry: bool) -> None:
    for folder, doc in NEW_PACKAGES.items():
        init = ROOT / folder / "__init__.py"
        if init.exists():
            if not init.read_text().strip():
                print(f"docstring for {init.relative_to(ROOT)}")
                if not dry:
                    init.write_text(doc)
            continue
        print(f"create {init.relative_to(ROOT)}")
        if not dry:
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(doc)
            subprocess.run(["git", "add", str(init.relative_to(ROOT))], cwd=ROOT, check=True)


def remove_empty_folders(dry: bool) -> None:
    """Old folders left with nothing but bytecode caches."""
    for folder in sorted((ROOT / "tests").rglob("*"), reverse=True):
        if not folder.is_dir() or folder.name == "__pycache__":
            continue
        entries = [e for e in folder.iterdir() if e.name != "__pycache__"]
        if not entries:
            print(f"remove folder {folder.relative_to(ROOT)}")
            if not dry:
                shutil.rmtree(folder)


# --- rewriting references --------------------------------------------------------------

_DOTTED = re.compile(r"(?<![\w.])tests(?:\.\w+)+")
_SLASHED = re.compile(r"(?<![\w/.])tests(?:/\w+)+(?:\.py|/)?")
_FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<pkg>tests(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]*?)(?P<tail>[ \t]*(?:#[^\n]*)?)$",
    re.M,
)
# Bare module names in the docstrings of the fake Telegram's own modules.
_TELEGRAM_BARE = re.compile(r"(?<![\w.])telegram_(api|messages|methods|state|types|world)\b")


def _rewrite_from_import(match: re.Match[str]) -> str:
    """``from tests.plugins import components`` -> ``... import fixtures as components``."""
    pkg = match["pkg"]
    names_src = match["names"]
    inner = names_src[1:-1] if names_src.startswith("(") else names_src
    items = [item.strip() for item in inner.replace("\n", " ").split(",") if item.strip()]
    changed = False
    new_items: list[str] = []
    new_pkgs: set[str] = set()
    for item in items:
        name, _, alias = (part.strip() for part in item.partition(" as "))
        target = map_module(f"{pkg}.{name}")
        if target != f"{pkg}.{name}" and _is_module(f"{pkg}.{name}", target):
            parent, _, leaf = target.rpartition(".")
            new_pkgs.add(parent)
            local = alias or name
            new_items.append(leaf if leaf == local else f"{leaf} as {local}")
            changed = True
        else:
            new_pkgs.add(map_module(pkg))
            new_items.append(item)
    if not changed or len(new_pkgs) != 1:
        return match[0]
    return f"{match['indent']}from {new_pkgs.pop()} import {', '.join(new_items)}{match['tail']}"


def _is_module(old: str, new: str) -> bool:
    """Whether ``old`` names a module (not a function or class of its package):
    its file is there, before the move or after it."""
    return any(
        _path_of(name, False).exists() or _path_of(name, True).exists() for name in (old, new)
    )


def _map_slashed(match: re.Match[str]) -> str:
    text = match[0]
    suffix = ".py" if text.endswith(".py") else "/" if text.endswith("/") else ""
    core = text[: len(text) - len(suffix)] if suffix else text
    return map_module(core.replace("/", ".")).replace(".", "/") + suffix


def rewrite_text(text: str, in_telegram_fake: bool) -> str:
    text = _FROM_IMPORT.sub(_rewrite_from_import, text)
    text = _DOTTED.sub(lambda m: map_module(m[0]), text)
    text = _SLASHED.sub(_map_slashed, text)
    if in_telegram_fake:
        text = _TELEGRAM_BARE.sub(lambda m: _TELEGRAM.get(m[1], m[1]), text)
    return text


def files_to_rewrite() -> list[Path]:
    files: list[Path] = [ROOT / name for name in REWRITE_FILES if (ROOT / name).exists()]
    for folder in REWRITE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if (
                path.is_file()
                and path.suffix in REWRITE_SUFFIXES
                and "__pycache__" not in path.parts
                and path.resolve() != THIS
            ):
                files.append(path)
    return files


def rewrite_all(dry: bool) -> list[Path]:
    changed: list[Path] = []
    for path in files_to_rewrite():
        old = path.read_text(encoding="utf-8")
        if KEEP in old:  # a file that holds the old names on purpose (its test)
            continue
        # The fake Telegram's modules, where they are now or where they are going.
        in_fake = path.suffix == ".py" and map_module(_module_of(path)).startswith(
            "tests.fakes.telegram."
        )
        new = rewrite_text(old, in_fake)
        if new != old:
            changed.append(path)
            print(f"rewrite {path.relative_to(ROOT)}")
            if not dry:
                path.write_text(new, encoding="utf-8")
    return changed


def sort_imports(paths: list[Path]) -> None:
    """Re-sort imports (ruff's isort rule) in the Python files the rewrite changed."""
    python = [str(p.relative_to(ROOT)) for p in paths if p.suffix == ".py"]
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
    if not python or ruff is None:
        return
    subprocess.run(
        [ruff, "check", "--select", "I", "--fix", "--quiet", *python], cwd=ROOT, check=False
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="print what would change, change nothing"
    )
    args = parser.parse_args(argv)
    _check_rules_are_idempotent()
    # Rewrite before moving: `from tests.plugins import components` is recognised
    # as a module import only while the old file is still where it was.
    changed = rewrite_all(args.check)
    moves = planned_moves()
    for old, new in moves:
        move(old, new, args.check)
    before = len(changed) + len(moves)
    make_packages(args.check)
    if not args.check:
        remove_empty_folders(dry=False)
        sort_imports([p if p.exists() else _moved(p, moves) for p in changed])
    if before == 0:
        print("nothing to do")
    return 0


def _moved(path: Path, moves: list[tuple[Path, Path]]) -> Path:
    return dict(moves).get(path, path)


if __name__ == "__main__":
    sys.exit(main())
