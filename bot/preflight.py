"""What ``run`` refuses and what ``check`` reports, part by part.

``run`` must fail loudly before it touches a network: a deployment that
starts with no platform, or with no triage room or advisor to receive a
report, would accept a defender's report that nobody can read.
``check`` tries every part, even after one failed, and prints one verdict
line per part in the same format, so the operator sees all problems at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import Config, ConfigError, Secrets, load_secrets, read_master_key
from bot.logs import redact
from bot.transports.base import TransportStartError
from handlers.clock import SystemClock
from handlers.hub import MessengerHub
from handlers.services import Services
from storage import Database

Verdict = tuple[str, bool, str]
PLATFORMS = ("telegram", "matrix")


def enabled_platforms(config: Config) -> list[str]:
    return [name for name in PLATFORMS if getattr(config, name).enabled]


def advisory_problem(config: Config) -> str | None:
    """Why the enabled platforms cannot take a report to anyone, or None.

    A triage room and an advisor must each be on an enabled platform:
    an address on a disabled platform can never be reached.
    """
    enabled = enabled_platforms(config)
    if not enabled:
        where = config.source or "the config"
        return f"no platform is enabled; set telegram.enabled or matrix.enabled in {where}"
    for key in ("rooms", "advisors"):
        values = getattr(config.advisory, key)
        if not any(value.split(":", 1)[0] in enabled for value in values):
            return (
                f"Error in configuration at 'advisory.{key}': no entry on an enabled platform "
                f"({', '.join(enabled)}); a report would reach nobody"
            )
    return None


async def check_parts(config: Config, environ: Mapping[str, str]) -> list[Verdict]:
    """Try each part once; a verdict line per part, never a traceback, never a stop."""
    verdicts: list[Verdict] = [("config", True, f"{config.source} is valid")]
    problem = advisory_problem(config)
    verdicts.append(("advisory", problem is None, problem or _advisory_summary(config)))
    secrets: Secrets | None = None
    master_key: bytes | None = None
    try:
        secrets = load_secrets(config, environ)
        master_key = secrets.master_key
        verdicts.append(("secrets", True, "master key and platform secrets found"))
    except ConfigError as exc:
        verdicts.append(("secrets", False, str(exc)))
        try:
            master_key = read_master_key(config, environ)
        except ConfigError:
            master_key = None
    db: Database | None = None
    if master_key is None:
        verdicts.append(("storage", False, "not tried: no usable master key (see secrets)"))
    else:
        try:
            db = await Database.open(config.storage.url, master_key, SystemClock().now)
            backend = config.storage.url.split("+")[0]
            verdicts.append(
                ("storage", True, f"{backend} reachable, schema up to date, key opens it")
            )
        except Exception as exc:
            verdicts.append(("storage", False, _reason(exc)))
    try:
        verdicts.extend(await _platform_verdicts(config, secrets, db))
    finally:
        if db is not None:
            await db.close()
    return verdicts


async def _platform_verdicts(
    config: Config, secrets: Secrets | None, db: Database | None
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for name in PLATFORMS:
        if not getattr(config, name).enabled:
            verdicts.append((name, True, "disabled in the config"))
        elif secrets is None:
            verdicts.append((name, False, "not tried: its secret is missing (see secrets)"))
        elif db is None and name == "matrix":
            verdicts.append((name, False, "not tried: the E2EE store key is in storage"))
        else:
            verdicts.append((name, *await _try_platform(name, config, secrets, db)))
    return verdicts


async def _try_platform(
    name: str, config: Config, secrets: Secrets, db: Database | None
) -> tuple[bool, str]:
    from bot.app import build_transports, settings_from

    # Telegram's check needs no storage: it is tried even when storage failed.
    services = Services(db, SystemClock(), settings_from(config), MessengerHub())  # type: ignore[arg-type]
    transport = next(t for t in build_transports(config, secrets, services) if t.platform == name)
    try:
        return True, await transport.check()
    except TransportStartError as exc:
        return False, str(exc)
    except Exception as exc:
        return False, _reason(exc)


def _advisory_summary(config: Config) -> str:
    advisory = config.advisory
    return f"{len(advisory.rooms)} triage room(s), {len(advisory.advisors)} advisor(s)"


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return redact(text)[:300]  # python-telegram-bot's InvalidToken quotes the token
