"""Changes to the advisory group made in chat (``/advisor add|remove``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId


class AdvisorChange(Base):
    """One person's standing against the config's advisor list: proposed or done.

    ``state``: ``proposed_add``/``proposed_remove`` (waiting for a second
    advisor), ``added``/``removed`` (in force). The address is sealed; the
    keyed hash finds it; ``proposer_hash`` tells a confirmation from a repeat.
    """

    __tablename__ = "advisor_changes"

    id: Mapped[RecordId]
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address_enc: Mapped[bytes]
    data_key_id: Mapped[SealingKeyId]
    state: Mapped[str] = mapped_column(String(16))
    proposer_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]
