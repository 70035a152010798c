"""The optional ``[monitoring] listen`` endpoint: Prometheus ``/metrics`` and ``/healthz``.

prometheus-client (the reference Python client, kept by the Prometheus
project) writes the text format; aiohttp, already a dependency, serves it in
the bot's own event loop, so a scrape can read the database with the same
async engine instead of a thread of its own.

No label or value carries content, a reference, a name or a platform id:
labels are the platform (``telegram``/``matrix``), an outcome
(``handled``/``failed``) or a case's urgency (``immediate``/``days``/``weeks``).
Figures read from storage are refreshed at each scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from bot.transports.base import Deliver, Transport
from handlers.messages import IncomingMessage
from handlers.messenger import Messenger
from storage import Database

log = logging.getLogger(__name__)

FRESH_S = 300.0  # /healthz fails when a platform has received nothing for this long


def _last_receive(transport: Transport) -> float | None:
    """Telegram and Matrix say when they last received; other transports do not."""
    value = getattr(transport, "last_receive", None)
    return float(value) if value is not None else None


class StoredCounter(Collector):
    """A counter whose value is a count kept in storage, set at each scrape.

    prometheus-client's ``Counter`` only counts up in this process; the missed
    check-ins are counted in the database (the audit log), so the figure does
    not fall back to zero at a restart or when a standby takes over.
    """

    def __init__(self, name: str, documentation: str) -> None:
        self.name, self.documentation = name, documentation
        self.value = 0.0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.value)


class Monitor:
    """The metrics, the wrapper that counts turns, and the HTTP endpoint."""

    def __init__(self, db: Database, transports: Sequence[Transport]) -> None:
        self.db = db
        self.transports = transports
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            "sosbot_updates", "Incoming updates by outcome", ["platform", "outcome"], registry=r
        )
        self.turn_seconds = Histogram(
            "sosbot_turn_seconds", "Time to handle one incoming update", ["platform"], registry=r
        )
        self.outbox_depth = Gauge(
            "sosbot_outbox_depth", "Outbox messages queued or sending", ["platform"], registry=r
        )
        self.outbox_oldest = Gauge(
            "sosbot_outbox_oldest_age_seconds",
            "Age of the oldest queued outbox message (0 when none)",
            ["platform"],
            registry=r,
        )
        self.undelivered_cards = Gauge(
            "sosbot_undelivered_case_cards",
            "Open cases that no advisory room has received a card of",
            registry=r,
        )
        self.unacknowledged = Gauge(
            "sosbot_oldest_unacknowledged_case_age_seconds",
            "Age of the oldest open, unacknowledged case (0 when none)",
            ["urgency"],
            registry=r,
        )
        self.last_receive = Gauge(
            "sosbot_last_receive_timestamp_seconds",
            "When a poll (Telegram) or sync (Matrix) last succeeded, Unix time",
            ["platform"],
            registry=r,
        )
        self.checkins_missed = StoredCounter(
            "sosbot_checkins_missed", "Check-in questions left unanswered past their grace period"
        )
        r.register(self.checkins_missed)
        self.checkins_active = Gauge(
            "sosbot_checkins_active", "Check-in series asking a defender now", registry=r
        )
        self.checkins_missed_unanswered = Gauge(
            "sosbot_checkins_missed_unanswered",
            "Active check-in series whose last question was missed and not answered since",
            registry=r,
        )
        self._failed: set[int] = set()  # ids of messages whose turn failed, until counted
        self._runner: web.AppRunner | None = None

    def turn_failed(self, msg: IncomingMessage) -> None:
        """The router's error boundary (``Router.on_failed``): this turn was rolled back.

        The router answers the person itself and does not raise, so the
        wrapper below learns of the failure here, by the message's identity
        (turns run concurrently)."""
        self._failed.add(id(msg))

    def wrap(self, deliver: Deliver, platform: str) -> Deliver:
        """``deliver`` counted and timed; failures still propagate to the transport."""

        async def counted(msg: IncomingMessage, messenger: Messenger) -> None:
            began = time.perf_counter()
            try:
                await deliver(msg, messenger)
            except Exception:  # a cancelled turn (shutdown) is not a failure
                self.updates.labels(platform, "failed").inc()
                raise
            finally:
                self.turn_seconds.labels(platform).observe(time.perf_counter() - began)
                rolled_back = id(msg) in self._failed
                self._failed.discard(id(msg))
            self.updates.labels(platform, "failed" if rolled_back else "handled").inc()

        return counted

    async def refresh(self) -> None:
        figures = await self.db.health.figures()
        now = time.time()
        for platform in self._platforms():
            queue = figures.outbox.get(platform)
            self.outbox_depth.labels(platform).set(queue.depth if queue else 0)
            oldest = queue.oldest.timestamp() if queue and queue.oldest else now
            self.outbox_oldest.labels(platform).set(max(0.0, now - oldest))
        self.undelivered_cards.set(figures.undelivered_cards)
        for urgency in ("immediate", "days", "weeks"):
            at = figures.oldest_unacknowledged.get(urgency)
            self.unacknowledged.labels(urgency).set(max(0.0, now - at.timestamp()) if at else 0)
        self.checkins_missed.value = figures.checkins_missed
        self.checkins_active.set(figures.checkins_active)
        self.checkins_missed_unanswered.set(figures.checkins_missed_unanswered)
        for transport in self.transports:
            last = _last_receive(transport)
            if last is not None:
                self.last_receive.labels(str(transport.platform)).set(last)

    def _platforms(self) -> list[str]:
        return [str(t.platform) for t in self.transports]

    def stale(self) -> list[str]:
        """Platforms that received nothing for ``FRESH_S`` (or never)."""
        now = time.time()
        lasts = {str(t.platform): _last_receive(t) for t in self.transports}
        return [name for name, last in lasts.items() if last is None or now - last > FRESH_S]

    async def _metrics(self, _request: web.Request) -> web.Response:
        try:
            await self.refresh()
        except Exception as exc:  # a scrape must answer; the failure shows in /healthz
            log.error("monitoring: storage figures unavailable: %s", type(exc).__name__)
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        try:
            await self.db.health.figures()
        except Exception as exc:
            return web.Response(status=503, text=f"storage: {type(exc).__name__}\n")
        stale = self.stale()
        if stale:
            return web.Response(status=503, text=f"nothing received: {', '.join(stale)}\n")
        return web.Response(text="ok\n")

    async def start(self, listen: str) -> None:
        host, _sep, port = listen.rpartition(":")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, int(port)).start()
        log.info("monitoring on http://%s/metrics", listen)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
