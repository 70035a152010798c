"""What handlers need to know of the configuration.

bot/app.py builds this from bot/config.py; handlers never import ``bot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from handlers.messages import Address
from handlers.vocab import Casework


@dataclass(frozen=True)
class Settings:
    default_language: str = "en"
    advisory_rooms: tuple[Address, ...] = ()
    advisors: tuple[Address, ...] = ()
    escalation_list: tuple[Address, ...] = ()
    allow_content_in_unencrypted_rooms: bool = False
    escalation_after: dict[str, timedelta] = field(
        default_factory=lambda: {
            "immediate": timedelta(minutes=15),
            "days": timedelta(minutes=120),
            "weeks": timedelta(minutes=1440),
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
    casework: Casework = field(default_factory=Casework)

    def is_advisor(self, account: Address) -> bool:
        return account in self.advisors

    def is_advisory_room(self, chat: Address) -> bool:
        return chat in self.advisory_rooms
