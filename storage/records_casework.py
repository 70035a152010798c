"""What the casework repositories return: frozen, plaintext dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.records import Case

Tags = dict[str, tuple[str, ...]]
"""Structured case fields: ``{"country": ("CO",), "threat": ("death_threat", …)}``."""


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case's structured fields (sealed on the case)."""

    case: Case
    tags: Tags
    outcome: str | None


@dataclass(frozen=True, slots=True)
class StatRow:
    """One de-identified statistics row (see ``storage.models.CaseStat``)."""

    opened_month: str
    closed_month: str
    country: str | None
    region: str | None
    threats: tuple[str, ...]
    perpetrators: tuple[str, ...]
    profiles: tuple[str, ...]
    relation: str | None
    urgency: str
    minutes_to_ack: int | None
    minutes_to_action: int | None
    appeals: int
    signatures: int
    referrals: int
    letters: int
    outcome: str


@dataclass(frozen=True, slots=True)
class PartnerEntry:
    """One row of the partner directory as imported and exported (CSV)."""

    name: str
    kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    contact: str = ""  # telegram:…, matrix:… or free text
    notes: str = ""


@dataclass(frozen=True, slots=True)
class ReferralRecord:
    ref: str
    case_ref: str
    partner: str | None  # None once the partner left the directory
    partner_contact: str | None
    kind: str
    state: str
    note: str | None  # None once the defender withdrew the case
    sent: int
    created_at: datetime
    updated_at: datetime
    blocked_at: datetime | None = None
    """When narrowed consent blocked the summary (``blocked_from`` → ``blocked_to``)."""
    blocked_from: str | None = None
    blocked_to: str | None = None

    @property
    def open(self) -> bool:
        return self.state in ("requested", "accepted")

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None
