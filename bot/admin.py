"""Operator commands: master key rotation, audit verification, member CSV.

Both print what they did in a line or two and return an exit code; errors
are one line, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TextIO, TypeVar

from bot.config import MASTER_KEY_ENV, Config, read_master_key
from handlers.clock import SystemClock
from handlers.registry import RegistryFileError, parse_csv, to_csv
from storage import Database, MemberEntry
from storage.admin import rotate_master_key, verify_audit
from storage.keys import (
    fsync_dir,
    generate_master_key,
    key_file_loader,
    read_master_key_file,
    sibling,
    write_master_key_file,
)

T = TypeVar("T")

EXIT_OK, EXIT_ERROR = 0, 1


async def rotate_key(config: Config, environ: Mapping[str, str]) -> int:
    """Re-wrap every data key under a new master key; re-run to finish after a crash.

    The new key is written to ``<key_file>.new`` first (a re-run takes it up
    again), the data keys are re-wrapped in batches, then the files are
    renamed: ``<key_file>`` → ``<key_file>.old``, ``.new`` → ``<key_file>``.
    A running bot keeps reading throughout: it loads ``.new``/``.old`` when
    it meets a data key wrapped by a key it does not hold yet.
    """
    if environ.get(MASTER_KEY_ENV):
        print(
            f"rotate-key: the master key comes from ${MASTER_KEY_ENV}; rotation works on "
            "the key file (crypto.master_key_file). Unset the variable and use a file."
        )
        return EXIT_ERROR
    path = config.crypto.master_key_file
    new_path, old_path = sibling(path, ".new"), sibling(path, ".old")
    if not path.exists() and new_path.exists() and old_path.exists():
        os.replace(new_path, path)  # a crash between the two renames: finish them
        _retire(old_path)
        print("rotate-key: finished an interrupted rotation; the old key is deleted")
        return EXIT_OK
    old_key = read_master_key(config, environ)
    if new_path.exists():
        new_key = read_master_key_file(new_path)
        print(f"rotate-key: resuming with the new key already in {new_path}")
    else:
        new_key = generate_master_key()
        write_master_key_file(new_path, new_key)
    report = await rotate_master_key(
        config.storage.url,
        old_key,
        new_key,
        on_batch=lambda done: print(f"rotate-key: {done} data keys re-wrapped", flush=True),
    )
    if old_path.exists():
        old_path.unlink()  # the key before last: every data key is now under the new one
    os.replace(path, old_path)
    os.replace(new_path, path)
    fsync_dir(path.parent)
    _retire(old_path)
    print(
        f"rotate-key: {report.rewrapped} data keys re-wrapped under key {report.new_key_id[:12]}; "
        "the old key is deleted."
    )
    return EXIT_OK


def _retire(old_path: Path) -> None:
    """Delete the old key: every data key and the index secret are wrapped by the
    new one now, and a running bot reloads the key file when it meets the new
    key's id, so nothing needs it; left on disk it would only serve an attacker
    holding an old backup."""
    old_path.unlink(missing_ok=True)
    fsync_dir(old_path.parent)


async def audit_verify(config: Config, environ: Mapping[str, str]) -> int:
    key = read_master_key(config, environ)
    extra = [] if environ.get(MASTER_KEY_ENV) else key_file_loader(config.crypto.master_key_file)()
    verdict = await verify_audit(config.storage.url, key, [k for k in extra if k != key])
    print(verdict.message)
    return EXIT_OK if verdict.ok else EXIT_ERROR


async def _open(config: Config, environ: Mapping[str, str]) -> Database:
    return await Database.open(
        config.storage.url,
        read_master_key(config, environ),
        SystemClock().now,
        key_loader=key_file_loader(config.crypto.master_key_file),
    )


open_database = _open
"""The database of the config, for the other admin modules (``bot.admin_casework``)."""


def read_members_file(path: Path) -> str | None:
    """The CSV's text, or None after saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"members import: cannot read {path}: {exc}", file=sys.stderr)
        return None


def parsed_or_said(command: str, parse: Callable[[str], T], text: str) -> T | None:
    """``parse(text)``, or None after listing every problem of the file: one bad
    row imports nothing (``sosbot members import``, ``sosbot partners import``)."""
    try:
        return parse(text)
    except RegistryFileError as exc:
        print(f"{command}: nothing imported; {len(exc.errors)} problem(s):", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None


async def with_database(
    config: Config, environ: Mapping[str, str], work: Callable[[Database], Awaitable[T]]
) -> T:
    """Run ``work`` on the config's database, closed afterwards whatever happens."""
    db = await _open(config, environ)
    try:
        return await work(db)
    finally:
        await db.close()


async def import_file(
    config: Config,
    environ: Mapping[str, str],
    text: str,
    command: str,
    parse: Callable[[str], T],
    store: Callable[[Database, T], Awaitable[int]],
    what: str,
) -> int:
    """``sosbot members|partners import``: every row checked first (one bad row
    imports nothing), then ``store`` in the database; says how many ``what``."""
    entries = parsed_or_said(command, parse, text)
    if entries is None:
        return EXIT_ERROR
    count = await with_database(config, environ, lambda db: store(db, entries))
    print(f"{command}: {count} {what} imported or updated")
    return EXIT_OK


async def members_import(config: Config, environ: Mapping[str, str], text: str) -> int:
    """Import a member CSV: every row checked first; one bad row imports nothing."""

    async def store(db: Database, entries: list[MemberEntry]) -> int:
        count = await db.members.import_members(entries)
        await db.audit.append("system", "members.import", None, str(count))
        return count

    return await import_file(
        config,
        environ,
        text,
        "members import",
        parse_csv,
        store,
        "organisations and individuals",
    )


async def members_export(config: Config, environ: Mapping[str, str], out: TextIO) -> int:
    entries = await with_database(config, environ, lambda db: db.members.export_members())
    out.write(to_csv(entries))
    return EXIT_OK
