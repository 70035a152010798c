"""Case cards: which message in which room shows which case.

An advisor may answer a card with a reply that omits the reference; the
card is found by a keyed hash of (room, message), and its location is
sealed with the case's key (so it can be edited later).
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case as CaseRow
from storage.models import CaseCard as CardRow
from storage.repos.base import Repository, open_json, seal_json
from storage.repos.casework import case_key, load_case
from storage.types import new_id


class Cards(Repository):
    def _card_hash(self, room_address: str, message_id: str) -> str:
        return self._vault.index.address_hash(f"card\0{room_address}\0{message_id}")

    async def record_card(self, ref: str, room_address: str, message_id: str) -> None:
        """Remember that ``message_id`` in ``room_address`` shows case ``ref``."""
        now = self._store.now()
        lookup = self._card_hash(room_address, message_id)
        async with self._store.write() as session:
            row = await load_case(session, ref, lock=True)
            key = await case_key(session, self._vault, row, now)
            if await session.scalar(select(CardRow.id).where(CardRow.lookup_hash == lookup)):
                return
            card_id = new_id()
            location = {"room": room_address, "message": message_id}
            session.add(
                CardRow(
                    id=card_id,
                    case_id=row.id,
                    lookup_hash=lookup,
                    location_enc=seal_json(key, "case_cards", "location", card_id, location),
                    created_at=now,
                )
            )

    async def case_for_card(self, room_address: str, message_id: str) -> str | None:
        """The reference of the case whose card is ``message_id`` in ``room_address``."""
        lookup = self._card_hash(room_address, message_id)
        async with self._store.read() as session:
            return await session.scalar(
                select(CaseRow.ref)
                .join(CardRow, CardRow.case_id == CaseRow.id)
                .where(CardRow.lookup_hash == lookup)
            )

    async def cards_of(self, ref: str) -> list[tuple[str, str]]:
        """(room address, message id) of every card of the case still known."""
        async with self._store.read() as session:
            row = await load_case(session, ref)
            cards = (
                (
                    await session.execute(
                        select(CardRow)
                        .where(CardRow.case_id == row.id)
                        .order_by(CardRow.created_at)
                    )
                )
                .scalars()
                .all()
            )
            sealed = [card for card in cards if card.location_enc is not None]
            if not sealed:
                return []
            key = await self._vault.key(session, row.data_key_id)
            places = []
            for card in sealed:
                assert card.location_enc is not None
                location = open_json(key, "case_cards", "location", card.id, card.location_enc)
                places.append((str(location["room"]), str(location["message"])))
            return places
