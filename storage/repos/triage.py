"""Triage actions on a case, each recorded in its history and the audit log.

``actor`` is always the advisor's platform address: history and audit keep
only its pseudonym; an assignee's address is sealed with the case's key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from storage.models import Case as CaseRow
from storage.records import (
    Case,
    CaseEvent,
    CaseState,
    EventKind,
    Priority,
    Referral,
    Role,
    Verification,
)
from storage.repos.audit import append_entry
from storage.repos.base import Repository, seal_text
from storage.repos.casework import CASES, add_event, case_key, event_record, load_case, summary

REFERRAL_KINDS: tuple[str, ...] = tuple(Referral)

Apply = Callable[[CaseRow, bytes, datetime], bool]
"""Changes the case row; returns False when nothing changed (no event is recorded)."""


def _acknowledge(row: CaseRow, now: datetime) -> bool:
    if row.acknowledged_at is not None:
        return False
    row.acknowledged_at = now
    if row.state == CaseState.NEW.value:
        row.state = CaseState.TRIAGE.value
    return True


class Triage(Repository):
    async def _act(
        self,
        ref: str,
        actor: str,
        kind: EventKind,
        action: str,
        *,
        value: str | None = None,
        text: str | None = None,
        apply: Apply | None = None,
    ) -> tuple[Case, CaseEvent | None]:
        now = self._store.now()
        index = self._vault.index
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            key = await case_key(session, self._vault, row, now)
            if apply is not None and not apply(row, key, now):
                return summary(row), None
            pseudonym = index.pseudonym(actor)
            event = add_event(
                session, key, row, kind, Role.ADVISOR, pseudonym, now, value=value, text=text
            )
            await append_entry(session, index, actor, action, ref, value, now)
            await session.flush()
            return summary(row), event_record(key, event)

    async def acknowledge(self, ref: str, actor: str) -> Case:
        """Stop the escalation. Acknowledging twice changes nothing."""

        def apply(row: CaseRow, _key: bytes, now: datetime) -> bool:
            return _acknowledge(row, now)

        case, _ = await self._act(ref, actor, EventKind.ACKNOWLEDGED, "case.ack", apply=apply)
        return case

    async def claim(self, ref: str, actor: str) -> Case:
        return await self.assign(ref, actor, actor)

    async def assign(self, ref: str, actor: str, assignee: str) -> Case:
        """Make ``assignee`` (an advisor's address) responsible for the case."""
        assignee_hash = self._vault.index.address_hash(assignee)

        def apply(row: CaseRow, key: bytes, now: datetime) -> bool:
            row.assignee_hash = assignee_hash
            row.assignee_enc = seal_text(key, CASES, "assignee", row.id, assignee)
            _acknowledge(row, now)  # taking a case on acknowledges it
            return True

        case, _ = await self._act(
            ref, actor, EventKind.ASSIGNED, "case.assign", text=assignee, apply=apply
        )
        return case

    async def set_priority(self, ref: str, actor: str, priority: str) -> Case:
        value = Priority(priority).value
        return await self._set(ref, actor, EventKind.PRIORITY, "case.priority", "priority", value)

    async def set_verification(self, ref: str, actor: str, verification: str) -> Case:
        value = Verification(verification).value
        return await self._set(
            ref, actor, EventKind.VERIFICATION, "case.verify", "verification", value
        )

    async def set_state(self, ref: str, actor: str, state: str) -> Case:
        """Move the case; ``closed`` closes it (without a reason), leaving ``closed`` reopens."""
        value = CaseState(state).value

        def apply(row: CaseRow, _key: bytes, now: datetime) -> bool:
            if row.state == value:
                return False
            row.closed_at = now if value == CaseState.CLOSED.value else None
            row.state = value
            return True

        case, _ = await self._act(
            ref, actor, EventKind.STATE, "case.state", value=value, apply=apply
        )
        return case

    async def _set(
        self, ref: str, actor: str, kind: EventKind, action: str, column: str, value: str
    ) -> Case:
        def apply(row: CaseRow, _key: bytes, _now: datetime) -> bool:
            if getattr(row, column) == value:
                return False
            setattr(row, column, value)
            return True

        case, _ = await self._act(ref, actor, kind, action, value=value, apply=apply)
        return case

    async def add_note(self, ref: str, actor: str, text: str) -> CaseEvent:
        """An internal note: never shown to the defender."""
        _, event = await self._act(ref, actor, EventKind.NOTE, "case.note", text=text)
        assert event is not None
        return event

    async def ask(self, ref: str, actor: str, text: str) -> CaseEvent:
        """Record a question relayed to the defender (the handler delivers it)."""
        _, event = await self._act(ref, actor, EventKind.QUESTION, "case.ask", text=text)
        assert event is not None
        return event

    async def refer(self, ref: str, actor: str, kind: str, partner: str) -> CaseEvent:
        """Record a referral (legal, medical, …) to a partner (sealed)."""
        if kind not in REFERRAL_KINDS:
            raise ValueError(f"referral kind must be one of {', '.join(REFERRAL_KINDS)}")
        _, event = await self._act(
            ref, actor, EventKind.REFERRED, "case.refer", value=kind, text=partner
        )
        assert event is not None
        return event

    async def followup(self, ref: str, actor: str, due_at: datetime) -> Case:
        """Set the follow-up date (``overdue`` once it has passed)."""
        if due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")

        def apply(row: CaseRow, _key: bytes, _now: datetime) -> bool:
            row.followup_at = due_at
            return True

        stamp = due_at.isoformat(timespec="minutes")
        case, _ = await self._act(
            ref, actor, EventKind.FOLLOWUP, "case.followup", value=stamp, apply=apply
        )
        return case

    async def close(self, ref: str, actor: str, reason: str) -> Case:
        """Close the case with a reason (sealed). Closing again updates the reason."""

        def apply(row: CaseRow, key: bytes, now: datetime) -> bool:
            if row.state != CaseState.CLOSED.value:
                row.state, row.closed_at = CaseState.CLOSED.value, now
            row.close_reason_enc = seal_text(key, CASES, "close_reason", row.id, reason)
            return True

        case, _ = await self._act(
            ref, actor, EventKind.CLOSED, "case.close", text=reason, apply=apply
        )
        return case
