"""ORM models. They never leave the storage package: repositories return dataclasses."""

from storage.models.actions import AppealNote, AppealRecipient, Proposal, Subscription
from storage.models.advisors import AdvisorChange
from storage.models.appeals import (
    Appeal,
    AppealText,
    Approval,
    Broadcast,
    OutboxMessage,
    Signature,
)
from storage.models.base import Base
from storage.models.cases import Attachment, Case, CaseCard, CaseEvent
from storage.models.casework import CaseStat, Partner, Referral
from storage.models.checkins import Checkin
from storage.models.people import Account, Contact, Conversation, Invite, MemberGroup, Organisation
from storage.models.system import (
    AuditEntry,
    AuditHead,
    BotSecret,
    CallbackToken,
    DataKey,
    Deadline,
    KeyringState,
)

metadata = Base.metadata

__all__ = [
    "Account",
    "AdvisorChange",
    "Appeal",
    "AppealNote",
    "AppealRecipient",
    "AppealText",
    "Approval",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Base",
    "BotSecret",
    "Broadcast",
    "CallbackToken",
    "Case",
    "CaseCard",
    "CaseEvent",
    "CaseStat",
    "Checkin",
    "Contact",
    "Conversation",
    "DataKey",
    "Deadline",
    "Invite",
    "KeyringState",
    "MemberGroup",
    "Organisation",
    "OutboxMessage",
    "Partner",
    "Proposal",
    "Referral",
    "Signature",
    "Subscription",
    "metadata",
]
