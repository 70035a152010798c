"""What repositories return: frozen, plaintext dataclasses (never a ciphertext).

Enumerations are ``StrEnum``: callers may pass the plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Language(StrEnum):
    """The languages of the network: every message is translated into each."""

    EN = "en"
    ES = "es"
    FR = "fr"
    AR = "ar"


LANGUAGES: tuple[str, ...] = tuple(Language)
"""The supported language codes, English (the fallback) first."""


class Urgency(StrEnum):
    IMMEDIATE = "immediate"  # hours
    DAYS = "days"
    WEEKS = "weeks"


class Consent(StrEnum):
    ADVISORY_ONLY = "advisory_only"
    TRUSTED_PARTNERS = "trusted_partners"
    PUBLIC_NAMED = "public_named"
    PUBLIC_ANONYMISED = "public_anonymised"
    ASK_FIRST = "ask_first"  # a public appeal only after the defender approved its texts


class CaseState(StrEnum):
    NEW = "new"
    TRIAGE = "triage"
    VERIFYING = "verifying"
    ACTION = "action"
    MONITORING = "monitoring"
    CLOSED = "closed"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"
    FALSE = "false"


class Referral(StrEnum):
    """What a case is referred to a partner for (``/refer``, the partner directory)."""

    LEGAL = "legal"
    MEDICAL = "medical"
    PSYCHOSOCIAL = "psychosocial"
    RELOCATION = "relocation"
    EMERGENCY_FUNDS = "emergency_funds"
    DIGITAL_SECURITY = "digital_security"
    PHYSICAL_SECURITY = "physical_security"
    ADVOCACY = "advocacy"
    UN_MECHANISMS = "un_mechanisms"
    MATERIAL = "material"
    OTHER = "other"


class CaseFilter(StrEnum):
    OPEN = "open"
    MINE = "mine"
    OVERDUE = "overdue"
    ALL = "all"


class EventKind(StrEnum):
    CREATED = "created"
    DETAILS = "details"  # the defender completed an /sos report
    UPDATE = "update"  # the defender added information
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    PRIORITY = "priority"
    STATE = "state"
    VERIFICATION = "verification"
    NOTE = "note"  # internal
    QUESTION = "question"  # /ask, relayed to the defender
    REFERRED = "referred"
    FOLLOWUP = "followup"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"
    CONSENT = "consent"  # the defender changed the consent (value: the new consent)
    REVIEW = "review"  # the defender reviewed an appeal's texts (value: verdict:appeal:digest)
    TAGGED = "tagged"  # structured fields set (/tag)
    REFERRAL = "referral"  # a referral moved on (/referral)


class MemberKind(StrEnum):
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class AppealState(StrEnum):
    DRAFT = "draft"
    SENT = "sent"  # open for signatures
    CLOSED = "closed"
    CANCELLED = "cancelled"


class DeadlineKind(StrEnum):
    """What a row of the deadlines table asks the scheduler to do."""

    ESCALATION = "escalation"  # an unacknowledged case
    FOLLOWUP = "followup"
    DIGEST = "digest"  # daily, object_ref "daily"
    PURGE = "purge"  # daily, object_ref "daily"
    APPEAL_REMINDER = "appeal-reminder"
    APPEAL_CLOSE = "appeal-close"
    CARD_CHECK = "card-check"  # two minutes after a case: has a room got its card?
    CHECKIN = "checkin"  # a safety check-in is due; object_ref: the series id
    CHECKIN_MISS = "checkin-miss"  # the grace period of a check-in question; the series id
    CHECKIN_ESCALATION = "checkin-escalation"  # a missed check-in unacknowledged; the case
    CHECKIN_ALARM = "checkin-alarm"  # "I need help" or the duress word unacknowledged; the case
    REFERRAL_REMINDER = "referral-reminder"  # an open referral without news (casework)


class BroadcastKind(StrEnum):
    """What an outbox broadcast carries (its rows' ``kind``)."""

    APPEAL = "appeal"
    APPEAL_UPDATE = "appeal-update"
    REMINDER = "reminder"
    APPEAL_OUTCOME = "appeal-outcome"  # how the appeal ended, to every group it reached
    DELIVERED = "delivered"  # the letter was delivered, to the groups that signed


class Role(StrEnum):
    DEFENDER = "defender"
    ADVISOR = "advisor"
    SYSTEM = "system"


AttachmentInput = tuple[str, str, bytes]
"""(filename, MIME type, content) of a file to store with a case."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    language: str | None  # the person's choice, else the platform's hint, else None
    active: bool
    created_at: datetime
    language_chosen: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    account_id: int
    state: str
    data: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    filename: str
    mime_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Case:
    """A case's metadata (what the lists and the defender's /status show)."""

    ref: str
    state: str
    urgency: str
    consent: str
    channel: str
    priority: str
    verification: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    followup_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    assigned: bool

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


@dataclass(frozen=True, slots=True)
class CaseDetail(Case):
    """A case with its decrypted content (None once the defender withdrew it)."""

    what: str | None
    where: str | None
    who: str | None
    contact: str | None
    assignee: str | None  # advisor address
    close_reason: str | None
    reporter_account_id: int | None
    attachments: tuple[AttachmentInfo, ...]


@dataclass(frozen=True, slots=True)
class CaseEvent:
    seq: int
    kind: str
    role: str
    actor: str | None  # pseudonym (advisors), None for the defender and the system
    value: str | None  # the new priority, state, …
    text: str | None  # note, update, question, reason (None once erased)
    at: datetime
    attachments: tuple[AttachmentInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str  # pseudonym or a role word ("system", "defender")
    action: str
    object_ref: str | None
    detail: str | None
    hash: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of verifying the audit chain."""

    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None  # "altered" | "removed" | "inserted"

    @property
    def message(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, head {self.head_hash[:16]}"
        return f"audit log broken: entry {self.first_bad_seq} {self.problem}"


@dataclass(frozen=True, slots=True)
class Deadline:
    id: int
    kind: str
    object_ref: str
    due_at: datetime
    step: int


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    kind: str  # organisation | individual
    name: str
    country: str
    region: str
    languages: tuple[str, ...]
    working_groups: tuple[str, ...]
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One row of the member registry as imported and exported (CSV)."""

    name: str
    kind: str = MemberKind.ORGANISATION
    country: str = ""
    region: str = ""
    languages: tuple[str, ...] = ()
    working_groups: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()  # platform:id of the organisation's people
    groups: tuple[str, ...] = ()  # platform:id of its chats


@dataclass(frozen=True, slots=True)
class MemberGroup:
    id: int
    address: str
    organisation_id: int | None
    language: str
    active: bool
    muted: bool


@dataclass(frozen=True, slots=True)
class Appeal:
    ref: str
    state: str  # draft | sent | closed | cancelled
    case_ref: str | None
    deadline_at: datetime | None
    target_region: str | None
    target_language: str | None
    target_group: str | None
    allow_individuals: bool
    approvals: int
    created_at: datetime
    sent_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AppealDetail(Appeal):
    texts: dict[str, str] = field(default_factory=dict)  # language -> text
    approvers: tuple[str, ...] = ()  # pseudonyms


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    organisation_id: int
    organisation: str
    kind: str
    country: str
    region: str
    at: datetime
    via_group: bool


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    ref: str
    address: str
    language: str | None
    body: str | None
    attempts: int
    """Times the message was taken for sending, this time included."""
    options: tuple[tuple[str, str], ...] = ()
    """Buttons (key, label) to send with the text; empty for plain text."""
    tokens: tuple[str, ...] = ()
    """The buttons' tokens when they were issued with the message (else empty)."""
    platform: str = ""
    op: str = "text"
    """text, ask, file (``payload`` and ``params`` name/mime), delete (``params`` message_id),
    leave (``params`` person: leave the private chat after /forget)."""
    params: tuple[tuple[str, str], ...] = ()
    payload: bytes | None = None
    priority: int = 1
    last_error: str | None = None
    """Why the last attempt did not finish (``no_answer``: it may have arrived)."""


@dataclass(frozen=True, slots=True)
class OutboxProblem:
    """A message of a broadcast that did not certainly arrive: for the final report."""

    address: str
    status: str  # failed | inactive | uncertain
    error: str | None


@dataclass(frozen=True, slots=True)
class BroadcastInfo:
    kind: str
    ref: str
    report_to: tuple[str, ...]
    progress: dict[str, str]
    """Triage room address → the id of the progress message posted there."""
    state: str  # sending | done
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RotationReport:
    new_key_id: str
    rewrapped: int
    batches: int


class CheckinState(StrEnum):
    PROPOSED = "proposed"  # an advisor proposed it; the defender has not accepted yet
    WORD = "word"  # accepted; waiting for the defender's duress word (or none)
    ACTIVE = "active"
    STOPPED = "stopped"
    ENDED = "ended"


LIVE_CHECKIN_STATES = (CheckinState.PROPOSED, CheckinState.WORD, CheckinState.ACTIVE)


@dataclass(frozen=True, slots=True)
class Checkin:
    """A series of safety check-ins (never the duress word: only whether there is one)."""

    id: int
    account_id: int
    case_ref: str
    state: str
    proposed_by: str  # defender | advisor
    interval: timedelta
    grace: timedelta
    ends_at: datetime
    asked_at: datetime | None
    last_answer_at: datetime | None
    missed_at: datetime | None
    has_duress_word: bool
    created_at: datetime
