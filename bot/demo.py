"""``sosbot demo``: the real bot on a local web page, with no accounts.

The same handlers, storage (SQLite) and scheduler as ``sosbot run``, with
the web transport only and a fake clock that the page moves forward, so a
trainer can show escalation, reminders and deadlines without waiting. The
data folder is a new temporary one, erased at exit, unless ``--data`` names
one to keep (then the master key, the database and the demo time stay
there for the next run). A small member registry is seeded: organisations
in several regions and languages, two member groups bound to two of them.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.config import Config, load_secrets, parse_config
from bot.transports.base import Transport
from bot.transports.web import Layout, Pane, Persona, WebTransport
from handlers.clock import FakeClock
from handlers.services import Services
from storage import Database
from storage.keys import create_master_key_file
from storage.records_casework import PartnerEntry, StatRow

CLOCK_FILE = "demo-clock.txt"
MARKER = "SOSBOT-DEMO"  # a --data folder is the demo's only if it holds this (or nothing)


class DemoError(Exception):
    """The demo cannot start; the text says why in one line."""


PERSONAS = (
    Persona("defender-en", "Joseph — defender (English)", "defender", "en"),
    Persona("defender-es", "Lucía — defensora (español)", "defender", "es"),
    Persona("defender-fr", "Awa — défenseure (français)", "defender", "fr"),
    Persona("defender-ar", "أمينة — مدافعة (العربية)", "defender", "ar"),
    Persona("advisor-1", "Ana — advisor", "advisor", "en"),
    Persona("advisor-2", "Ben — advisor", "advisor", "en"),
    Persona("coordinator", "Chris — escalation coordinator", "coordinator", "en"),
    Persona("member-1", "Wanjiru — member, Haki Coalition (group 1)", "member", "en"),
    Persona("member-2", "كريم — عضو، شبكة المشرق (group 2)", "member", "ar"),
    Persona("member-3", "Diego — member, Red Mesoamericana", "member", "es"),
    Persona("partner-1", "Rosa — partner, Defenders Legal Aid", "partner", "en"),
)
PANES = (
    Pane("Private chat with the bot", tuple(p.id for p in PERSONAS)),
    Pane("Advisory group — triage room", ("advisor-1", "advisor-2", "coordinator"), "triage"),
    Pane("Member group 1 — Haki Coalition", ("member-1", "member-3"), "group-1", "en"),
    Pane("Member group 2 — شبكة المشرق", ("member-2",), "group-2", "ar"),
)
LAYOUT = Layout(PERSONAS, PANES)


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    country: str
    region: str
    languages: tuple[str, ...]
    working_groups: tuple[str, ...]
    contacts: tuple[str, ...] = ()
    group: str | None = None


ORGANISATIONS = (
    DemoOrganisation(
        "Haki Coalition for Defenders",
        "Kenya",
        "Africa",
        ("en",),
        ("land rights", "journalists"),
        ("web:member-1",),
        "web:group-1",
    ),
    DemoOrganisation(
        "شبكة المشرق للمدافعين",
        "Lebanon",
        "MENA",
        ("ar", "fr"),
        ("journalists",),
        ("web:member-2",),
        "web:group-2",
    ),
    DemoOrganisation(
        "Red Mesoamericana de Defensoras",
        "Mexico",
        "Americas",
        ("es",),
        ("women human rights defenders", "land rights"),
        ("web:member-3",),
    ),
    DemoOrganisation("Réseau Sahel Droits et Libertés", "Mali", "Africa", ("fr",), ("lawyers",)),
)


REGIONS = (
    "KE=africa",
    "ML=africa",
    "CD=africa",
    "LB=mena",
    "TN=mena",
    "MX=americas",
    "CO=americas",
    "GT=americas",
)


def demo_config(data_dir: Path) -> Config:
    """A web-only configuration whose paths all sit in ``data_dir``."""
    advisors = ", ".join(f'"web:{p.id}"' for p in PERSONAS if p.role == "advisor")
    # "Ana — advisor" is called Ana: /assign Ana, and case views show the name.
    names = ", ".join(
        f'"web:{p.id}={p.name.split(" — ")[0]}"' for p in PERSONAS if p.role == "advisor"
    )
    text = f"""
[bot]
data_dir = "."
[storage]
url = "sqlite+aiosqlite:///sosbot.db"
[crypto]
master_key_file = "master.key"
[advisory]
rooms = ["web:triage"]
advisors = [{advisors}]
names = [{names}]
escalation = ["web:coordinator"]
# The page is local: the case cards in the demo room show the (made-up) reports.
allow_content_in_unencrypted_rooms = true
[limits]
# The demo clock moves only when told, so per-minute and per-day windows would
# never slide: a trainer's advisor would be refused after 30 commands.
messages_per_minute = 100000
reports_per_day = 100000
[casework]
working_groups = ["land_rights", "journalists", "lawyers"]
regions = [{", ".join(f'"{r}"' for r in REGIONS)}]
"""
    return parse_config(text, data_dir)


PARTNERS = (
    PartnerEntry(
        "Defenders Legal Aid",
        ("legal", "un_mechanisms"),
        ("americas", "africa"),
        ("en", "es"),
        "web:partner-1",
        "answers within a day",
    ),
    PartnerEntry(
        "Safe Relocation Fund",
        ("relocation", "emergency_funds"),
        ("africa", "mena"),
        ("fr",),
        "+00 000 000 000 (made up)",
    ),
)


def sample_year(year: int) -> list[StatRow]:
    """Made-up statistics rows for ``/stats``: a year of a small network's closed cases."""
    countries = ("KE", "KE", "MX", "CO", "CO", "LB", "ML", "GT", "TN", "CD")
    threats = ("death_threat", "surveillance", "criminalisation", "harassment", "raid", "smear")
    outcomes = ("resolved", "risk_reduced", "risk_reduced", "ongoing_risk", "worsened", "unknown")
    regions = dict(entry.split("=") for entry in REGIONS)
    rows = []
    for i in range(84):
        country = countries[i * 7 % len(countries)]
        month = f"{year}-{1 + i * 12 // 84:02d}"
        appeal = int(i % 4 == 0)
        rows.append(
            StatRow(
                opened_month=month,
                closed_month=month,
                country=country,
                region=regions.get(country, "other"),
                threats=tuple(sorted({threats[i % 6], threats[i * 5 % 6]})),
                perpetrators=("police",) if i % 3 else ("company",),
                profiles=("land_defender",) if i % 2 else ("journalist",),
                relation="member",
                urgency="days",
                minutes_to_ack=20 + i % 90,
                minutes_to_action=60 + i * 7 % 600,
                appeals=appeal,
                signatures=appeal * (i % 30),
                referrals=int(i % 3 == 0),
                letters=appeal,
                outcome=outcomes[i % 6],
            )
        )
    return rows


async def seed_casework(db: Database, now: datetime) -> None:
    """Partners for /refer, and last year's sample statistics for /stats (once)."""
    await db.partners.import_partners(PARTNERS)
    if await db.stats.count() == 0:
        await db.stats.add_rows(sample_year(now.year - 1))


async def seed_members(db: Database) -> None:
    """The demo registry; running it again changes nothing."""
    for org in ORGANISATIONS:
        saved = await db.members.upsert_organisation(
            org.name,
            country=org.country,
            region=org.region,
            languages=org.languages,
            working_groups=org.working_groups,
        )
        for contact in org.contacts:
            await db.members.add_contact(saved.id, contact)
        if org.group:
            await db.members.add_group(org.group, saved.id, org.languages[0])


def _start_time(data_dir: Path) -> datetime:
    """Now, or the demo time saved by the last run in this folder if that is later."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        saved = datetime.fromisoformat((data_dir / CLOCK_FILE).read_text().strip())
    except (OSError, ValueError):
        return now
    return max(now, saved) if saved.tzinfo else now


@dataclass
class Demo:
    app: App
    web: WebTransport
    clock: FakeClock
    data_dir: Path
    temporary: bool

    @property
    def url(self) -> str:
        return self.web.url

    @classmethod
    async def build(
        cls, port: int = 8080, data: Path | None = None, start: datetime | None = None
    ) -> Demo:
        """``start`` fixes the demo time (tests); else now, or where the last run stopped."""
        temporary = data is None
        data_dir = Path(tempfile.mkdtemp(prefix="sosbot-demo-")) if data is None else data
        try:
            try:
                data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                if any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
                    # Never seed demo members into a real network's database.
                    raise DemoError(
                        f"{data_dir} is not a demo folder; give an empty or a new one to --data"
                    )
                (data_dir / MARKER).touch()
                config = demo_config(data_dir.resolve())
                create_master_key_file(config.crypto.master_key_file)
            except OSError as exc:
                raise DemoError(f"cannot use the folder {data_dir}: {exc.strerror}") from None
            clock = FakeClock(start or _start_time(data_dir))
            built: list[WebTransport] = []

            def transports(services: Services) -> list[Transport]:
                built.append(WebTransport(services, LAYOUT, port=port))
                return list(built)

            app = await App.build(config, load_secrets(config, {}), clock, transports)
        except BaseException:
            if temporary:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
        demo = cls(app, built[0], clock, data_dir, temporary)
        demo.web.advance = app.scheduler.advance
        try:
            await seed_members(app.services.db)
            await seed_casework(app.services.db, clock.now())
        except BaseException:
            await demo.stop()
            raise
        return demo

    async def start(self) -> None:
        try:
            await self.app.start()
        except OSError as exc:
            raise DemoError(
                f"cannot listen on 127.0.0.1:{self.web.port}: {exc.strerror}; "
                "choose another port with --port"
            ) from None

    async def stop(self) -> None:
        try:
            await self.app.stop()
            if not self.temporary:
                (self.data_dir / CLOCK_FILE).write_text(self.clock.now().isoformat() + "\n")
        finally:
            if self.temporary:
                shutil.rmtree(self.data_dir, ignore_errors=True)


async def run_demo(
    port: int = 8080, data: Path | None = None, say: Callable[[str], None] = print
) -> int:
    """Run until SIGINT or SIGTERM, then stop every part and tidy up."""
    demo = await Demo.build(port, data)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        await demo.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        where = "a temporary folder, erased at exit" if demo.temporary else str(demo.data_dir)
        say(f"sosbot demo: open {demo.url} in a browser (data: {where}). Ctrl-C stops it.")
        await stop.wait()
        say("sosbot demo: stopping")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await demo.stop()
    return 0
