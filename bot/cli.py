"""The sosbot command.

Configuration errors print one line naming the key and exit 1, without a
traceback. Logging is configured here and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__, logs
from bot.config import Config, ConfigError, find_config, load_config, load_secrets
from handlers.statistics import DIMENSIONS
from storage.errors import StorageError
from storage.keys import KeyFileError

if TYPE_CHECKING:
    from bot.app import App
    from bot.standby import Role

EXIT_OK, EXIT_ERROR = 0, 1
DESCRIPTION = "sosbot: a secure messaging bot for human-rights defenders' rapid-response networks"


def _parser() -> argparse.ArgumentParser:
    # --config and -v are accepted before or after the subcommand: each
    # subcommand inherits them, with SUPPRESS so that an absent one does not
    # overwrite what was given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="config file (else $SOSBOT_CONFIG, else ./config.toml)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    common.add_argument(
        "--debug-sql",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log SQL statements (never their values)",
    )
    parser = argparse.ArgumentParser(prog="sosbot", description=DESCRIPTION, parents=[common])
    parser.add_argument("--version", action="version", version=f"sosbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, parents=[common])

    command("init", "create the data folder, master key, schema and config")
    command("check", "validate the config and try each part, printing a verdict per part")
    command("run", "run the bot until SIGINT/SIGTERM (a standby waits if another is active)")
    command("rotate-key", "re-wrap every data key under a new master key")
    audit = command("audit", "audit log tools")
    audit.add_argument("action", choices=["verify"])
    members = command("members", "member registry: import or export a CSV")
    members.add_argument("action", choices=["import", "export"])
    members.add_argument("file", nargs="?", help="the CSV to import (export writes to stdout)")
    backup = command("backup", "write a consistent snapshot (never the master key) while running")
    backup.add_argument("file", type=Path, help="the backup file to write (.tar)")
    restore = command("restore", "restore a backup into an empty data folder")
    restore.add_argument("file", type=Path, help="a file written by 'sosbot backup'")
    command("discover", "answer /id (Telegram) and !id (Matrix) with the chat's and sender's ids")
    partners = command("partners", "partner directory: import or export a CSV")
    partners.add_argument("action", choices=["import", "export"])
    partners.add_argument("file", nargs="?", help="the CSV to import (export writes to stdout)")
    stats = command("stats", "case statistics (small cells suppressed)")
    stats.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    stats.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    stats.add_argument("--by", default="month", choices=DIMENSIONS)
    stats.add_argument("--format", dest="fmt", default="table", choices=["table", "csv", "json"])
    stats.add_argument("--chart", type=Path, help="also draw a PNG (needs sosbot[reports])")
    demo = command("demo", "try the bot in a local web page, with no accounts")
    demo.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    demo.add_argument("--data", type=Path, help="keep the demo's data in this folder")
    return parser


def refuse_demo_folder(config: Config) -> None:
    """The playground's folder (fake clock, demo accounts) is never a deployment's."""
    from bot.demo import MARKER

    if (config.bot.data_dir / MARKER).exists():
        raise ConfigError(
            "bot.data_dir", f"{config.bot.data_dir} is a demo folder ({MARKER}); use a new folder"
        )


def _example_config() -> str:
    return (resources.files("bot") / "config.example.toml").read_text(encoding="utf-8")


def _init(path: Path) -> int:
    """Files first (synchronously), then the database."""
    from storage.keys import create_master_key_file

    if path.exists():
        print(f"config: {path} exists, left as it is")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_example_config(), encoding="utf-8")
        print(f"config: wrote {path} from the example; edit it before enabling a platform")
    config = load_config(path)
    refuse_demo_folder(config)
    config.bot.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    print(f"data: {config.bot.data_dir}")
    if os.environ.get("SOSBOT_MASTER_KEY"):
        print("master key: taken from $SOSBOT_MASTER_KEY, no key file written")
    elif create_master_key_file(config.crypto.master_key_file):
        print(f"master key: created {config.crypto.master_key_file} (mode 0600); back it up")
    else:
        print(f"master key: {config.crypto.master_key_file} exists, left untouched")
    return asyncio.run(_init_database(config))


async def _init_database(config: Config) -> int:
    from bot.config import read_master_key
    from handlers.clock import SystemClock
    from storage import Database
    from storage.migrate import upgrade_to_head

    await upgrade_to_head(config.storage.url)
    # Opening once binds the database to this master key, so that a later
    # start with another key is refused instead of adopted.
    db = await Database.open(
        config.storage.url, read_master_key(config, os.environ), SystemClock().now
    )
    await db.close()
    print("database: schema at the latest version, bound to the master key")
    return EXIT_OK


async def _check(config: Config) -> int:
    from bot.preflight import check_parts

    verdicts = await check_parts(config, dict(os.environ))
    for part, ok, line in verdicts:
        print(f"{part}: {'ok' if ok else 'FAILED'} — {line}")
    return EXIT_OK if all(ok for _, ok, _ in verdicts) else EXIT_ERROR


async def _run(config: Config) -> int:
    """Refuse what cannot work before any network, then take the active role and run."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from bot.app import App
    from bot.preflight import advisory_problem
    from bot.standby import AlreadyRunning, Role, StandbyRefused
    from bot.transports.base import TransportStartError
    from storage.leader import LeadershipLost

    problem = advisory_problem(config)
    if problem is not None:
        print(f"run: {problem}", file=sys.stderr)
        return EXIT_ERROR
    # Secrets and the master key are checked against the database before the
    # role is taken: a standby with a wrong key must fail now, not at takeover.
    secrets = load_secrets(config)
    try:
        app = await App.build(config, secrets)
    except (OSError, DBAPIError) as exc:
        host = make_url(config.storage.url).host or "the database"
        print(f"run: cannot reach the database at {host} ({type(exc).__name__})", file=sys.stderr)
        return EXIT_ERROR
    role = Role(config)
    role.before_waiting = partial(_standby_store_check, config, app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        waiting = asyncio.create_task(role.take())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()  # stopped while a standby
            return EXIT_OK
        stopped.cancel()
        waiting.result()
        if role.took_over:  # the active one may have logged in to Matrix while we waited
            await _standby_store_check(config, app)
        await app.start()
        return await _serve(role, stop)
    except (TransportStartError, AlreadyRunning, StandbyRefused) as exc:
        print(f"run: {logs.redact(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, LeadershipLost) as exc:  # the lock's own connection failed
        host = make_url(config.storage.url).host or "the database"
        reason = str(exc) if isinstance(exc, LeadershipLost) else type(exc).__name__
        print(f"run: lost the database lock's connection to {host} ({reason})", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await app.stop()
        await role.release()


async def _standby_store_check(config: Config, app: App) -> None:
    """A standby (or one that took over) must hold the bot's Matrix device (shared store)."""
    from bot.standby import StandbyRefused
    from bot.transports.matrix_state import standby_store_problem

    if not config.matrix.enabled:
        return
    problem = await standby_store_problem(app.services.db.bot_secrets, config.matrix.store_dir)
    if problem is not None:
        raise StandbyRefused(problem)


async def _serve(role: Role, stop: asyncio.Event) -> int:
    """Run until stopped; a lost database lock ends the process at once.

    Another process may be active a few seconds after the lock is lost, so
    this one must not send another message: it exits without the graceful
    stop (what was in flight is settled by the next leader, as after a crash).
    """
    from storage.leader import LeadershipLost

    watching = asyncio.create_task(role.watch())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({watching, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if watching.done() and isinstance(watching.exception(), LeadershipLost):
        print(
            "run: lost the database lock; exiting so that the standby takes over",
            file=sys.stderr,
            flush=True,
        )
        os._exit(EXIT_ERROR)
    watching.cancel()
    return EXIT_OK


def _demo(port: int, data: Path | None) -> int:
    from bot.demo import DemoError, run_demo

    try:
        return asyncio.run(run_demo(port, data))
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_ERROR


async def _rotate_key(config: Config) -> int:
    from bot.admin import rotate_key

    return await rotate_key(config, dict(os.environ))


async def _audit_verify(config: Config) -> int:
    from bot.admin import audit_verify

    return await audit_verify(config, dict(os.environ))


async def _members(config: Config, action: str, file: str | None) -> int:
    from bot.admin import members_export, members_import

    return await _csv_file(config, action, file, "members", members_export, members_import)


async def _csv_file(
    config: Config,
    action: str,
    file: str | None,
    command: str,
    export: Callable[[Config, Mapping[str, str], TextIO], Awaitable[int]],
    import_: Callable[[Config, Mapping[str, str], str], Awaitable[int]],
) -> int:
    """``sosbot members|partners export``, or ``import FILE`` once the file is read."""
    from bot.admin import read_members_file

    if action == "export":
        return await export(config, dict(os.environ), sys.stdout)
    text = read_members_file(Path(file)) if file else None
    if text is None:
        if not file:
            print(f"{command} import: name the CSV file to import", file=sys.stderr)
        return EXIT_ERROR
    return await import_(config, dict(os.environ), text)


async def _discover(config: Config) -> int:
    from bot.discover import discover

    return await discover(config, load_secrets(config))


def _backup(config: Config, command: str, file: Path) -> int:
    from bot.backup import BackupError, backup, restore

    try:
        print(backup(config, file) if command == "backup" else restore(config, file))
    except BackupError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


async def _partners(config: Config, action: str, file: str | None) -> int:
    from bot.admin_casework import partners_export, partners_import

    return await _csv_file(config, action, file, "partners", partners_export, partners_import)


async def _stats(config: Config, args: argparse.Namespace) -> int:
    from bot.admin_casework import stats

    return await stats(
        config, dict(os.environ), args.first, args.last, args.by, args.fmt, args.chart, sys.stdout
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(
        verbose=getattr(args, "verbose", False), debug_sql=getattr(args, "debug_sql", False)
    )
    path = find_config(getattr(args, "config", None), os.environ)
    try:
        if args.command == "demo":
            return _demo(args.port, args.data)
        if args.command == "init":
            return _init(path)
        config = load_config(path)
        refuse_demo_folder(config)
        if args.command == "check":
            return asyncio.run(_check(config))
        if args.command == "run":
            return asyncio.run(_run(config))
        if args.command == "rotate-key":
            return asyncio.run(_rotate_key(config))
        if args.command == "members":
            return asyncio.run(_members(config, args.action, args.file))
        if args.command == "partners":
            return asyncio.run(_partners(config, args.action, args.file))
        if args.command == "stats":
            return asyncio.run(_stats(config, args))
        if args.command == "audit":
            return asyncio.run(_audit_verify(config))
        if args.command == "discover":
            return asyncio.run(_discover(config))
        if args.command in ("backup", "restore"):
            return _backup(config, args.command, args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    except (StorageError, KeyFileError) as exc:
        print(f"storage: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
