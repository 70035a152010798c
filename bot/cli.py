"""The ``sosbot`` command.

Configuration errors print one line naming the key and exit 1, without a
traceback. Logging is configured here and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path

from bot import __version__, logs
from bot.config import Config, ConfigError, find_config, load_config, load_secrets
from handlers.statistics import DIMENSIONS
from storage.errors import StorageError
from storage.keys import KeyFileError

EXIT_OK, EXIT_ERROR = 0, 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sosbot", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sosbot {__version__}")
    parser.add_argument("--config", help="config file (else $SOSBOT_CONFIG, else ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("init", help="create the data folder, master key, schema and config")
    sub.add_parser("check", help="validate the config and try each connection")
    sub.add_parser("run", help="run the bot until SIGINT/SIGTERM")
    sub.add_parser("rotate-key", help="re-wrap every data key under a new master key")
    audit = sub.add_parser("audit", help="audit log tools")
    audit.add_argument("action", choices=["verify"])
    members = sub.add_parser("members", help="member registry: import or export a CSV")
    members.add_argument("action", choices=["import", "export"])
    members.add_argument("file", nargs="?", help="the CSV to import (export writes to stdout)")
    partners = sub.add_parser("partners", help="partner directory: import or export a CSV")
    partners.add_argument("action", choices=["import", "export"])
    partners.add_argument("file", nargs="?", help="the CSV to import (export writes to stdout)")
    stats = sub.add_parser("stats", help="case statistics (small cells suppressed)")
    stats.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    stats.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    stats.add_argument("--by", default="month", choices=DIMENSIONS)
    stats.add_argument("--format", dest="fmt", default="table", choices=["table", "csv", "json"])
    stats.add_argument("--chart", type=Path, help="also draw a PNG (needs sosbot[reports])")
    demo = sub.add_parser("demo", help="try the bot in a local web page, with no accounts")
    demo.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    demo.add_argument("--data", type=Path, help="keep the demo's data in this folder")
    return parser


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
    from bot.app import check_parts

    verdicts = await check_parts(config, dict(os.environ))
    for part, ok, line in verdicts:
        print(f"{part}: {'ok' if ok else 'FAILED'} — {line}")
    return EXIT_OK if all(ok for _, ok, _ in verdicts) else EXIT_ERROR


async def _run(config: Config) -> int:
    from bot.app import App
    from bot.transports.matrix import MatrixStartError as TransportStartError

    app = await App.build(config, load_secrets(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        await stop.wait()
    except TransportStartError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    finally:
        await app.stop()
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
    from bot.admin import members_export, members_import, read_members_file

    if action == "export":
        return await members_export(config, dict(os.environ), sys.stdout)
    text = read_members_file(Path(file)) if file else None
    if text is None:
        if not file:
            print("members import: name the CSV file to import", file=sys.stderr)
        return EXIT_ERROR
    return await members_import(config, dict(os.environ), text)


async def _partners(config: Config, action: str, file: str | None) -> int:
    from bot.admin import read_members_file
    from bot.admin_casework import partners_export, partners_import

    if action == "export":
        return await partners_export(config, dict(os.environ), sys.stdout)
    text = read_members_file(Path(file)) if file else None
    if text is None:
        if not file:
            print("partners import: name the CSV file to import", file=sys.stderr)
        return EXIT_ERROR
    return await partners_import(config, dict(os.environ), text)


async def _stats(config: Config, args: argparse.Namespace) -> int:
    from bot.admin_casework import stats

    return await stats(
        config, dict(os.environ), args.first, args.last, args.by, args.fmt, args.chart, sys.stdout
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(verbose=args.verbose)
    path = find_config(args.config, os.environ)
    try:
        if args.command == "demo":
            return _demo(args.port, args.data)
        if args.command == "init":
            return _init(path)
        config = load_config(path)
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
