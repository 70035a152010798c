"""``sosbot backup FILE`` and ``sosbot restore FILE``.

A backup is a tar file (mode 0600) holding:

* ``manifest.json``: format, backend, time;
* ``database.sqlite`` — SQLite's online backup API, a consistent copy
  while the bot writes (WAL readers and writers are not blocked) — or
  ``database.sql``, a ``pg_dump`` (one snapshot transaction);
* ``matrix/``: the Matrix store folder (credentials, sync state and the nio
  E2EE store, each SQLite file through the online backup API too; the nio
  store is SQLCipher, copied still encrypted through SQLCipher's backup API
  with its key, which is read from the database as ``run`` reads it).

Never the master key: everything stored is encrypted under it, so a backup
alone reveals nothing and the key is backed up apart (docs/deployment.md).
Restore writes into an empty data folder (or empty PostgreSQL database) and
refuses anything else, so it can never overwrite a live deployment.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import Config, ConfigError, read_master_key
from bot.transports.matrix_store import PLAIN_HEADER, connect, store_passphrase

FORMAT = "sosbot-backup/1"
EXIT_OK, EXIT_ERROR = 0, 1


class BackupError(Exception):
    """One line for the operator."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other connections write."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = ["-h", parsed.host or "localhost", "-p", str(parsed.port or 5432)]
    if parsed.username:
        args += ["-U", parsed.username]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = parsed.password  # never on the command line (ps shows it)
    return [*args, "-d", parsed.database or ""], env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found; install the PostgreSQL client (postgresql-client)")
    return found


def _run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, input=data, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{Path(cmd[0]).name}: {last}")
    return proc.stdout


def _cipher_copy(source: Path, target: Path, passphrase: str) -> None:
    """SQLCipher's online backup: the copy is encrypted under the same key."""
    src = connect(source, passphrase, read_only=True)
    dst = connect(target, passphrase)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _store_passphrase(config: Config) -> str:
    """The Matrix store's SQLCipher passphrase: derived from the pickle key that
    is sealed in the database (so this needs the master key, as ``run`` does)."""
    from bot.transports.matrix import PICKLE_SECRET
    from handlers.clock import SystemClock
    from storage import Database
    from storage.keys import key_file_loader

    async def read() -> bytes | None:
        db = await Database.open(
            config.storage.url,
            read_master_key(config, os.environ),
            SystemClock().now,
            key_loader=key_file_loader(config.crypto.master_key_file),
        )
        try:
            return await db.bot_secrets.get(PICKLE_SECRET)
        finally:
            await db.close()

    try:
        # A loop of its own in a thread: backup() is also called from async code.
        with ThreadPoolExecutor(max_workers=1) as pool:
            held = pool.submit(asyncio.run, read()).result()
    except ConfigError as exc:
        raise BackupError(f"the Matrix store is encrypted and its key is sealed: {exc}") from None
    if held is None:
        raise BackupError("the Matrix store's key is missing from the database")
    return store_passphrase(held.decode("ascii"))


def _is_plain_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(len(PLAIN_HEADER))
    return head == PLAIN_HEADER or not head  # an empty file is an empty SQLite database


def _copy_store(config: Config, target: Path, skip: set[Path]) -> None:
    store = config.matrix.store_dir
    passphrase: str | None = None
    for path in sorted(store.rglob("*")):
        if path.resolve() in skip or not path.is_file():
            continue
        out = target / path.relative_to(store)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".db" and _is_plain_sqlite(path):
            _sqlite_copy(path, out)
        elif path.suffix == ".db":
            passphrase = passphrase or _store_passphrase(config)
            _cipher_copy(path, out, passphrase)
        elif not path.name.endswith(("-wal", "-shm", "-journal")):
            shutil.copy2(path, out)


def backup(config: Config, file: Path) -> str:
    """Write the backup; return a one-line summary."""
    url = config.storage.url
    backend = make_url(url).get_backend_name()
    with tempfile.TemporaryDirectory(prefix="sosbot-backup-") as tmp:
        work = Path(tmp)
        if backend == "sqlite":
            _sqlite_copy(_sqlite_path(url), work / "database.sqlite")
        else:
            args, env = _pg_args(url)
            dump = _run(
                [
                    _pg_tool("pg_dump"),
                    "--no-owner",
                    "--no-privileges",
                    "--clean",
                    "--if-exists",
                    *args,
                ],
                env,
            )
            (work / "database.sql").write_bytes(dump)
        store = config.matrix.store_dir
        if store.is_dir():
            _copy_store(config, work / "matrix", {config.crypto.master_key_file.resolve()})
        manifest = {"format": FORMAT, "backend": backend, "created": int(time.time())}
        (work / "manifest.json").write_text(json.dumps(manifest))
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(file.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for path in sorted(work.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(work)), recursive=False)
        os.replace(partial, file)
    matrix = "with" if store.is_dir() else "no"
    return f"backup: wrote {file} ({backend}, {matrix} Matrix store; the master key is not in it)"


def _pg_is_empty(url: str) -> bool:
    args, env = _pg_args(url)
    out = _run(
        [
            _pg_tool("psql"),
            "-At",
            "-c",
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            *args,
        ],
        env,
    )
    return out.strip() == b"0"


def restore(config: Config, file: Path) -> str:
    """Restore into an empty data folder/database; return a one-line summary."""
    try:
        tar = tarfile.open(file, mode="r")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {file}: {exc}") from None
    with tar, tempfile.TemporaryDirectory(prefix="sosbot-restore-") as tmp:
        work = Path(tmp)
        tar.extractall(work, filter="data")
        try:
            manifest = json.loads((work / "manifest.json").read_text())
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{file} is not a sosbot backup")
        url = config.storage.url
        backend = make_url(url).get_backend_name()
        if manifest["backend"] != backend:
            raise BackupError(
                f"the backup holds a {manifest['backend']} database; storage.url is {backend}"
            )
        store = config.matrix.store_dir
        if store.exists() and any(store.iterdir()):
            raise BackupError(f"{store} is not empty; restore goes into an empty data folder")
        if backend == "sqlite":
            target = _sqlite_path(url)
            if target.exists():
                raise BackupError(f"{target} exists; restore goes into an empty data folder")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(work / "database.sqlite", target)
            os.chmod(target, 0o600)
        else:
            if not _pg_is_empty(url):
                raise BackupError("the database is not empty; restore goes into an empty one")
            args, env = _pg_args(url)
            _run(
                [
                    _pg_tool("psql"),
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "-f",
                    "-",
                    *args,
                ],
                env,
                (work / "database.sql").read_bytes(),
            )
        if (work / "matrix").is_dir():
            shutil.copytree(work / "matrix", store, dirs_exist_ok=True)
            for path in [store, *store.rglob("*")]:
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
    return f"restore: {backend} database and Matrix store restored from {file}; run 'sosbot check'"


def dump_listing(file: Path) -> list[str]:
    """The names inside a backup (tests and the guide show them)."""
    with tarfile.open(file) as tar:
        return tar.getnames()


__all__ = ["BackupError", "backup", "dump_listing", "restore"]
