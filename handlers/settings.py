"""What handlers need to know of the configuration.

bot/app.py builds this from bot/config.py; handlers never import ``bot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from handlers.messages import Address
from handlers.vocab import Casework
from storage.records import Language, Urgency


@dataclass(frozen=True)
class Settings:
    default_language: str = Language.EN
    advisory_rooms: tuple[Address, ...] = ()
    advisors: tuple[Address, ...] = ()
    advisor_names: dict[Address, str] = field(default_factory=dict)  # shown instead of ids
    escalation_list: tuple[Address, ...] = ()
    allow_content_in_unencrypted_rooms: bool = False
    escalation_after: dict[str, timedelta] = field(
        default_factory=lambda: {
            Urgency.IMMEDIATE: timedelta(minutes=15),
            Urgency.DAYS: timedelta(minutes=120),
            Urgency.WEEKS: timedelta(minutes=1440),
        }
    )
    draft_lifetime: timedelta = timedelta(hours=24)
    closed_case_retention: timedelta = timedelta(days=180)
    approvals_required: int = 2
    reminder_before_deadline: timedelta = timedelta(hours=24)
    messages_per_minute: int = 30
    reports_per_day: int = 10
    max_text_chars: int = 8000
    max_attachment_bytes: int = 10_000_000
    max_attachments_per_report: int = 10
    digest_time: str = "08:00"
    checkin_grace: timedelta = timedelta(minutes=30)
    """How long a check-in question waits for an answer before the room is alerted."""
    reopen_period: timedelta = timedelta(days=30)
    """How long after closing the defender may reopen a case with /update."""
    conversation_window: timedelta = timedelta(minutes=30)
    """After /ask, how long everything the defender sends goes to the room."""
    casework: Casework = field(default_factory=Casework)
    emergency_contact: str = ""
    """The network's emergency line, shown as written when a report cannot reach a room."""

    def is_advisor(self, account: Address) -> bool:
        return account in self.advisors

    def is_advisory_room(self, chat: Address) -> bool:
        return chat in self.advisory_rooms
