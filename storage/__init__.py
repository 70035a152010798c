"""sosbot storage: encrypted SQLAlchemy models, repositories and migrations.

Import the entry point from here::

    from storage import Database

Storage never imports ``bot`` or ``handlers``; it returns frozen dataclasses
(``storage.records``) and raises ``storage.errors``.
"""

from storage.database import Database
from storage.errors import (
    Conflict,
    DecryptionError,
    NotFound,
    RotationPending,
    SchemaError,
    SchemaNotCurrent,
    SchemaTooNew,
    StorageError,
    UnknownMasterKey,
    WrongMasterKey,
)
from storage.records import (
    Account,
    Appeal,
    AppealDetail,
    AttachmentInfo,
    AuditRecord,
    Case,
    CaseDetail,
    CaseEvent,
    CaseFilter,
    CaseState,
    Consent,
    Conversation,
    Deadline,
    EventKind,
    MemberEntry,
    MemberGroup,
    Organisation,
    OutboxItem,
    Priority,
    RotationReport,
    SignatureRecord,
    Urgency,
    Verdict,
    Verification,
)

__all__ = [
    "Account",
    "Appeal",
    "AppealDetail",
    "AttachmentInfo",
    "AuditRecord",
    "Case",
    "CaseDetail",
    "CaseEvent",
    "CaseFilter",
    "CaseState",
    "Conflict",
    "Consent",
    "Conversation",
    "Database",
    "Deadline",
    "DecryptionError",
    "EventKind",
    "MemberEntry",
    "MemberGroup",
    "NotFound",
    "Organisation",
    "OutboxItem",
    "Priority",
    "RotationPending",
    "RotationReport",
    "SchemaError",
    "SchemaNotCurrent",
    "SchemaTooNew",
    "SignatureRecord",
    "StorageError",
    "UnknownMasterKey",
    "Urgency",
    "Verdict",
    "Verification",
    "WrongMasterKey",
]
