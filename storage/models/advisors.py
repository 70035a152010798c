"""Changes to the advisory group made in chat (``/advisor add|remove``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import Id, UTCDateTime


class AdvisorChange(Base):
    """One person's standing against the config's advisor list: proposed or done.

    ``state``: ``proposed_add``/``proposed_remove`` (waiting for a second
    advisor), ``added``/``removed`` (in force). The address is sealed; the
    keyed hash finds it; ``proposer_hash`` tells a confirmation from a repeat.
    """

    __tablename__ = "advisor_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("data_keys.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(16))
    proposer_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
