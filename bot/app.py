"""The container: builds every object once and hands each what it needs.

Nothing here is module-level state; ``App.build`` is the only place where
the configuration turns into live objects (Synapse's ``HomeServer`` idea).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot import config_casework
from bot.broadcast import Dispatcher
from bot.config import Config, Secrets, advisor_names
from bot.monitoring import Monitor
from bot.scheduler import Scheduler
from bot.transports.base import Deliver, Transport
from handlers import roster
from handlers.clock import Clock, SystemClock
from handlers.hub import MessengerHub
from handlers.messages import Address
from handlers.router import Router
from handlers.services import Services
from handlers.settings import Settings
from storage import Database, Urgency
from storage.keys import key_file_loader

log = logging.getLogger(__name__)


def settings_from(config: Config) -> Settings:
    advisory = config.advisory
    return Settings(
        default_language=config.bot.default_language,
        advisory_rooms=tuple(Address.parse(a) for a in advisory.rooms),
        advisors=tuple(Address.parse(a) for a in advisory.advisors),
        advisor_names={Address.parse(a): n for a, n in advisor_names(advisory).items()},
        escalation_list=tuple(Address.parse(a) for a in advisory.escalation),
        allow_content_in_unencrypted_rooms=advisory.allow_content_in_unencrypted_rooms,
        escalation_after={
            Urgency.IMMEDIATE: timedelta(minutes=config.escalation.immediate),
            Urgency.DAYS: timedelta(minutes=config.escalation.days),
            Urgency.WEEKS: timedelta(minutes=config.escalation.weeks),
        },
        draft_lifetime=timedelta(hours=config.retention.draft_hours),
        closed_case_retention=timedelta(days=config.retention.closed_case_days),
        approvals_required=config.appeals.approvals_required,
        reminder_before_deadline=timedelta(hours=config.appeals.reminder_hours_before_deadline),
        messages_per_minute=config.limits.messages_per_minute,
        reports_per_day=config.limits.reports_per_day,
        max_text_chars=config.limits.max_text_chars,
        max_attachment_bytes=config.limits.max_attachment_bytes,
        max_attachments_per_report=config.limits.max_attachments_per_report,
        digest_time=advisory.digest_time,
        checkin_grace=timedelta(minutes=config.defender.checkin_grace_minutes),
        conversation_window=timedelta(minutes=config.defender.conversation_minutes),
        reopen_period=timedelta(days=config.defender.reopen_days),
        casework=config_casework.casework(config.casework),
        emergency_contact=advisory.emergency_contact,
    )


def build_transports(config: Config, secrets: Secrets, services: Services) -> list[Transport]:
    transports: list[Transport] = []
    if config.telegram.enabled:
        from bot.transports.telegram import TelegramTransport

        assert secrets.telegram_token is not None
        transports.append(TelegramTransport.from_config(config, secrets.telegram_token, services))
    if config.matrix.enabled:
        from bot.transports.matrix import MatrixTransport

        assert secrets.matrix_password is not None
        transports.append(MatrixTransport.from_config(config, secrets.matrix_password, services))
    return transports


@dataclass
class App:
    config: Config
    services: Services
    router: Router
    transports: list[Transport]
    scheduler: Scheduler
    dispatcher: Dispatcher
    monitor: Monitor | None = None

    @classmethod
    async def build(
        cls,
        config: Config,
        secrets: Secrets,
        clock: Clock | None = None,
        transports: Callable[[Services], list[Transport]] | None = None,
    ) -> App:
        """``transports`` builds the transports (tests tune them); default: from the config."""
        clock = clock or SystemClock()
        config.bot.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = await Database.open(
            config.storage.url,
            secrets.master_key,
            clock.now,
            key_loader=key_file_loader(config.crypto.master_key_file),
            migrate=True,
        )
        hub = MessengerHub()
        services = Services(db=db, clock=clock, settings=settings_from(config), hub=hub)
        await roster.load(services)  # the config's advisors with the changes made in chat
        router = Router(services)
        built = transports(services) if transports else build_transports(config, secrets, services)
        for transport in built:
            hub.register(transport.platform, transport.messenger)
        dispatcher = Dispatcher.for_transports(config, services, built)
        db.on_posted(dispatcher.wake)
        return cls(config, services, router, built, Scheduler(services), dispatcher)

    async def start(self) -> None:
        listen = self.config.monitoring.listen
        if listen:
            self.monitor = Monitor(self.services.db, self.transports)
            self.router.on_failed = self.monitor.turn_failed
            await self.monitor.start(listen)
        for transport in self.transports:
            deliver: Deliver = self.router.deliver
            if self.monitor is not None:
                deliver = self.monitor.wrap(deliver, transport.platform.value)
            await transport.start(deliver, self.router.takes_files)
            log.info("%s transport started", transport.platform.value)
        await self.scheduler.start()
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()  # sends in flight finish while the transports still run
        await self.scheduler.stop()
        for transport in reversed(self.transports):
            try:
                await transport.stop()
            except Exception as exc:  # keep stopping the others
                log.error("stopping %s failed: %s", transport.platform.value, type(exc).__name__)
        if self.monitor is not None:
            await self.monitor.stop()
        await self.services.db.close()
