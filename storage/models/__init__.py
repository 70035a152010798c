"""ORM models. They never leave the storage package: repositories return dataclasses."""

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
    "Appeal",
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
    "Referral",
    "Signature",
    "metadata",
]
