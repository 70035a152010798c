"""A throwaway PostgreSQL cluster for integration tests.

``PostgresServer`` runs ``initdb`` into a fresh temporary directory, starts a
postmaster listening only on ``127.0.0.1`` (a free TCP port) with its unix
socket inside that directory, and tears everything down again on ``stop()``.

Authentication is ``trust`` for local and loopback connections, so the
superuser role ``postgres`` needs no password.  Durability is switched off
(``fsync``/``synchronous_commit``/``full_page_writes``) because the cluster is
thrown away after the run; this keeps startup around half a second.

PostgreSQL refuses to run as root.  When the tests run as root, the server
binaries (``initdb``, ``pg_ctl``) are run as the ``postgres`` OS user through
``runuser`` and the temporary directory is chowned to that user.  Client
binaries (``createdb``, ``dropdb``, ``pg_dump``, ``pg_isready``) are run as the
current OS user and connect over TCP as the database role ``postgres``.

Usage::

    with PostgresServer() as pg:
        url = pg.create_database("mytest")   # postgresql+asyncpg://postgres@127.0.0.1:PORT/mytest
        ...
        sql_text = pg.dump("mytest")          # bytes of a plain-format pg_dump
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.servers.local import LocalServer
from tests.servers.net import free_port

__all__ = ["PostgresServer", "PostgresUnavailable", "find_pg_bindir"]

_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
_CLIENT_BINARIES = ("createdb", "dropdb", "pg_dump", "pg_isready")
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the cluster could not start."""


def _has_binaries(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in (*_SERVER_BINARIES, *_CLIENT_BINARIES))


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,)
    version = Path(path).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_pg_bindir() -> Path | None:
    """Locate a directory holding initdb/pg_ctl/pg_dump etc.

    Order: ``$PG_BINDIR``, ``pg_config --bindir``, then the highest version of
    ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu layout).
    """
    candidates: list[Path] = []
    env_dir = os.environ.get("PG_BINDIR")
    if env_dir:
        candidates.append(Path(env_dir))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            candidates.append(Path(out))
    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        candidates.append(Path(path))
    for candidate in candidates:
        if _has_binaries(candidate):
            return candidate
    return None


def _world_traversable(path: Path) -> bool:
    """True if every directory from / down to ``path`` is o+x (reachable by postgres)."""
    for part in (path, *path.parents):
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


class PostgresServer(LocalServer):
    """A disposable PostgreSQL cluster on 127.0.0.1 (see module docstring)."""

    def __init__(
        self,
        bindir: Path | str | None = None,
        *,
        os_user: str = "postgres",
        startup_timeout: float = 30.0,
        durable: bool = False,
    ) -> None:
        found = Path(bindir) if bindir is not None else find_pg_bindir()
        if found is None or not _has_binaries(found):
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_dump, ...) not found; "
                "looked at $PG_BINDIR, `pg_config --bindir` and /usr/lib/postgresql/*/bin. "
                "Install postgresql (e.g. `apt-get install postgresql`)."
            )
        self.bindir: Path = found
        self.host = "127.0.0.1"
        self.port: int = 0
        self.user = "postgres"  # database role
        self.startup_timeout = startup_timeout
        self._as_root = os.geteuid() == 0
        self._os_user = os_user
        self._tmpdir: Path | None = None
        self.startup_seconds: float | None = None
        self.durable = durable
        """fsync, synchronous_commit and full_page_writes on, as in production (benches)."""

    # ------------------------------------------------------------------ paths
    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.tmpdir

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "postgres.log"

    @property
    def running(self) -> bool:
        return self._tmpdir is not None and (self.datadir / "postmaster.pid").exists()

    # ------------------------------------------------------------- processes
    def _server_cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", self._os_user, "--", *cmd]
        return cmd

    def _client_cmd(self, name: str, *args: str) -> list[str]:
        return [
            str(self.bindir / name),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            *args,
        ]

    def _run(self, cmd: list[str], *, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            timeout=timeout,
            cwd=self._tmpdir or "/",
            env={**os.environ, "LC_ALL": "C", "PGCONNECT_TIMEOUT": "5"},
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                f"stdout: {proc.stdout.decode(errors='replace')}\n"
                f"stderr: {proc.stderr.decode(errors='replace')}\n"
                f"{self._log_tail()}"
            )
        return proc

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""
        return "postgres.log (tail):\n" + "\n".join(text.splitlines()[-lines:])

    def _make_tmpdir(self) -> Path:
        base = Path(tempfile.gettempdir())
        if self._as_root and not _world_traversable(base):
            base = Path("/tmp")
        path = Path(tempfile.mkdtemp(prefix="sosbot-pg-", dir=base))
        if self._as_root:
            shutil.chown(path, user=self._os_user, group=self._os_user)
        return path

    # -------------------------------------------------------------- lifecycle
    def start(self) -> PostgresServer:
        self._require_stopped()
        began = time.monotonic()
        self._tmpdir = self._make_tmpdir()
        try:
            self._run(
                self._server_cmd(
                    "initdb",
                    "-D",
                    str(self.datadir),
                    "-U",
                    self.user,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                )
            )
            last_error: Exception | None = None
            for _attempt in range(3):  # retry if another process grabbed the port
                self.port = free_port()
                options = " ".join(
                    [
                        "-c listen_addresses=127.0.0.1",
                        f"-p {self.port}",
                        f"-k {self.socket_dir}",
                        *(
                            ()
                            if self.durable
                            else (
                                "-c fsync=off",
                                "-c synchronous_commit=off",
                                "-c full_page_writes=off",
                            )
                        ),
                        "-c max_connections=200",
                    ]
                )
                try:
                    self._run(
                        self._server_cmd(
                            "pg_ctl",
                            "-D",
                            str(self.datadir),
                            "-l",
                            str(self.logfile),
                            "-o",
                            options,
                            "-w",
                            "-t",
                            str(int(self.startup_timeout)),
                            "start",
                        ),
                        timeout=self.startup_timeout + 10,
                    )
                except PostgresUnavailable as exc:
                    last_error = exc
                    if "already in use" in self._log_tail(5):
                        continue
                    raise
                break
            else:
                raise PostgresUnavailable(f"could not bind a free port: {last_error}")
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            proc = subprocess.run(
                self._client_cmd("pg_isready", "-t", "2"),
                capture_output=True,
                check=False,
            )
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"PostgreSQL on {self.host}:{self.port} not ready after "
                    f"{self.startup_timeout}s\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the postmaster (``pg_ctl stop -m fast``) and delete the directory."""
        if self._tmpdir is None:
            return
        try:
            if (self.datadir / "postmaster.pid").exists():
                try:
                    self._run(
                        self._server_cmd(
                            "pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop"
                        ),
                        timeout=60,
                    )
                except (PostgresUnavailable, subprocess.TimeoutExpired):
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    # -------------------------------------------------------------- databases
    def url(self, dbname: str, *, driver: str = "asyncpg") -> str:
        """SQLAlchemy URL for ``dbname`` (``postgresql+asyncpg://postgres@127.0.0.1:PORT/db``)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str) -> str:
        """libpq / asyncpg DSN for ``dbname``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its SQLAlchemy (asyncpg) URL.

        ``name`` must be a plain identifier; ``None`` picks a unique one.  If a
        database of that name exists it is dropped first, so every call yields
        an empty database.
        """
        if name is None:
            name = f"test_{uuid.uuid4().hex[:16]}"
        self._check_name(name)
        self._run(self._client_cmd("dropdb", "--if-exists", "--force", name))
        self._run(self._client_cmd("createdb", "-E", "UTF8", "-T", "template0", name))
        return self.url(name)

    def copy_database(self, source: str, name: str) -> str:
        """A new database ``name`` holding a copy of ``source`` (which must have no
        open connection); its SQLAlchemy (asyncpg) URL."""
        self._check_name(source)
        self._check_name(name)
        self._run(self._client_cmd("dropdb", "--if-exists", "--force", name))
        self._run(self._client_cmd("createdb", "-T", source, name))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._check_name(name)
        self._run(self._client_cmd("dropdb", "--if-exists", "--force", name))

    def dump(self, dbname: str, *extra_args: str) -> bytes:
        """Return a plain-SQL ``pg_dump`` of ``dbname`` (data included) as bytes."""
        self._check_name(dbname)
        proc = self._run(
            self._client_cmd("pg_dump", "--no-owner", "--no-privileges", *extra_args, dbname),
            timeout=120,
        )
        return proc.stdout

    @staticmethod
    def _check_name(name: str) -> None:
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"invalid database name {name!r} (use [A-Za-z_][A-Za-z0-9_]*)")
