"""Broadcasts as people see them.

``queue_broadcast`` puts one message per destination in the outbox (see
``storage.repos.outbox``; the dispatcher in ``bot/broadcast`` sends them).
Inside another repository's transaction use ``storage.repos.outbox.
add_broadcast`` instead, so that the broadcast is queued with its cause.

``ProgressReporter.tick`` (run every few seconds by the dispatcher) tells
the triage rooms how a long broadcast is going — one "sent N of M" message
per room, edited in place — and, once every message has an outcome, queues
the final report: how many were sent, failed, found their destination
gone (marked inactive) or are uncertain (in flight when the bot stopped:
a person should check those), naming each such destination.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from handlers.i18n import N_, RTL_LANGUAGES, isolate, render
from handlers.messages import Address
from handlers.messenger import DestinationGone, TransientSendError
from handlers.services import Services
from storage.errors import NotFound
from storage.records import BroadcastInfo, BroadcastKind, Language, MemberGroup, OutboxProblem
from storage.repos.outbox import FAILED, INACTIVE, SENT, UNCERTAIN, Delivery

log = logging.getLogger(__name__)
QUEUED = "q:"  # a progress message still in the outbox: "q:<row id>"

LABELS: dict[str, str] = {
    BroadcastKind.APPEAL: N_("Appeal {ref}"),
    BroadcastKind.APPEAL_UPDATE: N_("Update to appeal {ref}"),
    BroadcastKind.REMINDER: N_("Reminder for appeal {ref}"),
}
DEFAULT_LABEL = N_("Broadcast {ref}")
LISTED_PROBLEMS = 30
FALLBACK_LANGUAGE: str = Language.EN


def deliveries_for(
    groups: Sequence[MemberGroup],
    texts: Mapping[str, str],
    options: Sequence[tuple[str, str]] = (),
    fallback: str = FALLBACK_LANGUAGE,
) -> list[Delivery]:
    """One delivery per group, in the group's language (else ``fallback``)."""
    deliveries = []
    for group in groups:
        language = group.language if group.language in texts else fallback
        deliveries.append(Delivery(group.address, language, texts[language], tuple(options)))
    return deliveries


async def queue_broadcast(
    services: Services,
    kind: str,
    ref: str,
    deliveries: Sequence[Delivery],
    report_to: Sequence[Address] | None = None,
) -> int:
    """Queue a broadcast (idempotent); progress and the report go to ``report_to``
    (default: the triage rooms). Returns how many messages were new."""
    rooms = services.settings.advisory_rooms if report_to is None else report_to
    return await services.db.outbox.enqueue_broadcast(
        kind, ref, deliveries, [str(room) for room in rooms]
    )


def label(language: str, kind: str, ref: str) -> str:
    return render(language, LABELS.get(kind, DEFAULT_LABEL), ref=ref)


def progress_text(language: str, kind: str, ref: str, counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    text = render(
        language,
        "{label}: sent {sent} of {total}.",
        label=label(language, kind, ref),
        sent=counts.get(SENT, 0),
        total=total,
    )
    missed = sum(counts.get(s, 0) for s in (FAILED, INACTIVE, UNCERTAIN))
    if missed:
        text += " " + render(language, "Not delivered so far: {n}.", n=missed)
    return text


def report_text(
    language: str,
    kind: str,
    ref: str,
    counts: Mapping[str, int],
    problems: Sequence[tuple[str, OutboxProblem]],
) -> str:
    """The final report; ``problems`` are (how to name the destination, problem)."""
    lines = [
        render(language, "{label}: sending finished.", label=label(language, kind, ref)),
        render(
            language,
            "Sent: {sent} of {total}.",
            sent=counts.get(SENT, 0),
            total=sum(counts.values()),
        ),
    ]
    headings = {
        FAILED: N_("Failed (gave up after retries): {n}"),
        INACTIVE: N_("No longer reachable, marked inactive: {n}"),
        UNCERTAIN: N_(
            "Uncertain (the bot stopped while sending; please check whether they got it): {n}"
        ),
    }
    for status, heading in headings.items():
        named = [name for name, problem in problems if problem.status == status]
        if not named:
            continue
        lines.append("")
        lines.append(render(language, heading, n=len(named)))
        rtl = language in RTL_LANGUAGES
        lines.extend(f"- {isolate(name) if rtl else name}" for name in named[:LISTED_PROBLEMS])
        if len(named) > LISTED_PROBLEMS:
            lines.append(render(language, "and {n} more", n=len(named) - LISTED_PROBLEMS))
    return "\n".join(lines)


@dataclass
class _Shown:
    first_seen: float
    updated: float = float("-inf")
    text: str = ""


@dataclass
class ProgressReporter:
    """Keeps the triage rooms told; ``tick`` is cheap and safe to call any time."""

    services: Services
    clock: Callable[[], float] = time.monotonic
    interval: float = 10.0
    """Seconds between two edits of a progress message."""
    show_after: float = 10.0
    """A broadcast that finishes sooner gets only the final report."""
    _shown: dict[tuple[str, str], _Shown] = field(default_factory=dict)

    async def tick(self) -> None:
        for info in await self.services.db.outbox.running():
            counts = await self.services.db.outbox.counts(info.kind, info.ref)
            if not any(counts.get(s) for s in ("pending", "sending")):
                await self._finish(info, counts)
            else:
                await self._progress(info, counts)

    @property
    def _language(self) -> str:
        return self.services.settings.default_language

    async def _progress(self, info: BroadcastInfo, counts: Mapping[str, int]) -> None:
        now = self.clock()
        shown = self._shown.setdefault((info.kind, info.ref), _Shown(first_seen=now))
        if now - shown.first_seen < self.show_after and not info.progress:
            return
        text = progress_text(self._language, info.kind, info.ref, counts)
        if text == shown.text or now - shown.updated < self.interval:
            return
        shown.updated, shown.text = now, text
        await self._show(info, text)

    async def _show(self, info: BroadcastInfo, text: str, *, post: bool = True) -> None:
        """Edit each room's progress message; post one where there is none (if ``post``)."""
        hub = self.services.hub
        progress = dict(info.progress)
        for room_text in info.report_to:
            room = Address.parse(room_text)
            try:
                message_id = await self._message_id(progress.get(room_text))
                if message_id is not None:
                    progress[room_text] = message_id
                    if await hub.edit_text(room, message_id, text):
                        continue
                if post and not str(progress.get(room_text, "")).startswith(QUEUED):
                    ref = f"{info.kind}:{info.ref}"
                    queued = await self.services.post.send_text(
                        room, text, kind="progress", ref=ref
                    )
                    progress[room_text] = f"{QUEUED}{queued.row_id}"
            except (DestinationGone, TransientSendError) as exc:
                log.warning("broadcast progress not shown: %s", type(exc).__name__)
        if progress != info.progress:
            await self.services.db.outbox.set_progress(info.kind, info.ref, progress)

    async def _message_id(self, shown: str | None) -> str | None:
        """The platform's id of a progress message; None while it is still queued."""
        if shown is None or not shown.startswith(QUEUED):
            return shown
        row_id = int(shown.removeprefix(QUEUED))
        return (await self.services.db.outbox.remote_ids([row_id])).get(row_id)

    async def _finish(self, info: BroadcastInfo, counts: Mapping[str, int]) -> None:
        problems = await self.services.db.outbox.problems(info.kind, info.ref)
        named = [(await self._name(p.address), p) for p in problems]
        language = self._language
        report = report_text(language, info.kind, info.ref, counts, named)
        deliveries = [Delivery(room, language, report) for room in info.report_to]
        if not await self.services.db.outbox.finish_broadcast(info.kind, info.ref, deliveries):
            return
        self._shown.pop((info.kind, info.ref), None)
        if info.progress:
            final = progress_text(language, info.kind, info.ref, counts)
            await self._show(info, final, post=False)

    async def _name(self, address: str) -> str:
        """How the report names a destination: its organisation and chat, or the chat."""
        members = self.services.db.members
        group = await members.group(address)
        if group is None or group.organisation_id is None:
            return address
        try:
            organisation = await members.get_organisation(group.organisation_id)
        except NotFound:
            return address
        return f"{organisation.name} ({address})"
