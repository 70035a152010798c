"""The defender's consent over time, and their review of appeal texts.

Both are case events (history and audit), so the triage view, /status and
the appeal check read one source. A review is bound to a digest of the
texts reviewed: changing a text after the defender said "yes" needs a new
"yes".
"""

from __future__ import annotations

from storage.errors import NotFound
from storage.records import CaseEvent, Consent, EventKind, Role
from storage.repos.audit import append_entry
from storage.repos.base import Repository
from storage.repos.casework import add_event, case_key, event_record, load_own_case

DEFENDER = "defender"


class CaseConsent(Repository):
    async def set_consent(self, ref: str, account_id: int, consent: str) -> str:
        """The defender changes the consent of their case; returns the old consent.

        ``NotFound`` for anyone else's case (the same as for no case).
        """
        consent = Consent(consent).value
        now = self._store.now()
        async with self._store.write() as session:
            row = await load_own_case(session, ref, account_id)
            if row.withdrawn_at is not None:
                raise NotFound("no such case")
            old = row.consent
            if old == consent:
                return old
            key = await case_key(session, self._vault, row, now)
            row.consent = consent
            add_event(session, key, row, EventKind.CONSENT, Role.DEFENDER, None, now, value=consent)
            await append_entry(
                session, self._vault.index, DEFENDER, "case.consent", ref, consent, now
            )
            return old

    async def record_review(
        self, ref: str, account_id: int, appeal_ref: str, digest: str, approved: bool
    ) -> CaseEvent:
        """The defender's verdict on the texts of ``appeal_ref`` (``digest`` names them)."""
        verdict = "yes" if approved else "no"
        value = f"{verdict}:{appeal_ref}:{digest[:16]}"
        now = self._store.now()
        async with self._store.write() as session:
            row = await load_own_case(session, ref, account_id)
            key = await case_key(session, self._vault, row, now)
            event = add_event(
                session, key, row, EventKind.REVIEW, Role.DEFENDER, None, now, value=value
            )
            await append_entry(
                session, self._vault.index, DEFENDER, "appeal.review", ref, value, now
            )
            await session.flush()
            return event_record(key, event)
