"""The API's request and response shapes (pydantic); unknown fields are refused."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from supporthub.tickets.models import BodyFormat, Channel, MessageKind, Status, TicketType
from supporthub.validators import NO_NUL, ONE_LINE, ONE_LINE_MESSAGE

MAX_ID = 2**63 - 1  # the largest key either database stores
MAX_SEVERITY = 32767

# What a failed `pattern` means, in words; the API's 422 says this instead of the regex.
PATTERN_MESSAGES = {
    NO_NUL: "Must not contain a NUL character.",
    ONE_LINE: ONE_LINE_MESSAGE,
}


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema has it: a number with no fraction (3 or 3.0); pydantic alone
    would also take "3" or true, which the schema does not allow."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number without a fraction")
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Numbers and booleans in a JSON body are JSON's own; a boolean is true or false, not "yes"
# or 1. The bounds come before the validator so that the schema states them.
JSON_INTEGER = BeforeValidator(_json_integer)
Id = Annotated[int, Field(ge=1, le=MAX_ID), JSON_INTEGER]
Line = Annotated[str, Field(min_length=1, max_length=300, pattern=ONE_LINE)]
Text = Annotated[str, Field(max_length=1_000_000, pattern=NO_NUL)]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^\x00\s@]+@[^\x00\s@]+$")]
Severity = Annotated[int, Field(ge=1, le=MAX_SEVERITY), JSON_INTEGER]
Flag = Annotated[bool, Field(strict=True)]

# Instants the product can hold: ticket history starts after 1970, and nothing is due
# after 2999 (far-off years would overflow once converted to UTC).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _sane_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range (1970 to 2999)") from None
    if not _EARLIEST <= utc <= _LATEST:
        raise ValueError("is out of range (1970 to 2999)")
    return utc


# RFC 3339, the `date-time` format of JSON Schema: ISO 8601 with seconds and an offset.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _date_time_text(value: Any) -> Any:
    """Only text in the declared format: pydantic alone would read `0.5` or `1700000000` as
    a Unix time, and `2026-03-04 12:00Z` though the schema promises RFC 3339."""
    if isinstance(value, datetime):  # Python callers
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            "must be an ISO 8601 date-time with seconds and an offset, e.g. 2026-03-04T12:00:00Z"
        )
    return value


# ISO 8601 with an offset ("2025-03-03T08:00:00-05:00" or "...Z"); a naive time is refused.
Instant = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_sane_instant)]


def _decimal_digits(value: Any) -> Any:
    """Integers from the URL or a form as plain decimal digits: pydantic alone would take
    "\n5", " 5", "+5" or "5.0" for 5."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ValueError("must be a whole number written in digits (0-9)")
        return int(value)
    return value


# Integers read from text (path, query, form field), in digits only. The bounds come before
# the validator so that the schema states them (`minimum`, `maximum`).
DIGITS = BeforeValidator(_decimal_digits)
WireId = Annotated[int, Field(ge=1, le=MAX_ID), DIGITS]
WireSeverity = Annotated[int, Field(ge=1, le=MAX_SEVERITY), DIGITS]
# A form field that may be left out; a form cannot send null (it would be the text "null").
OptionalWireId = Annotated[
    WireId | None, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ID})
]


class _In(Schema):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NotBlankLine = Annotated[Line, AfterValidator(_not_blank)]
NotBlankText = Annotated[Text, AfterValidator(_not_blank)]


# -- Requests -------------------------------------------------------------------------------


class TicketCreate(_In):
    """A new ticket. Tokens of an organisation name the reporting Support Contact; staff name
    the organisation too; a Support Contact's session reports as that contact."""

    subject: NotBlankLine
    body: NotBlankText
    body_format: BodyFormat = BodyFormat.TEXT
    severity: Severity | None = Field(
        default=None, description="The policy's severity level; omitted: its default severity"
    )
    type: TicketType = TicketType.INCIDENT
    requester_email: Email | None = Field(
        default=None, description="Email of an active Support Contact of the organisation"
    )
    requester_id: Id | None = None
    organisation_id: Id | None = Field(
        default=None, description="Required for staff; an organisation token may only name its own"
    )


class SeverityChange(_In):
    severity: Severity
    reason: NotBlankText


class Escalation(_In):
    reason: NotBlankText = Field(description="Why the ticket needs the CS lead")


class OutOfScope(_In):
    exclusion: Annotated[str, Field(min_length=1, max_length=60, pattern=NO_NUL)] = Field(
        description="The key of one of the policy's exclusions"
    )
    note: Text = ""


# Fields a change may leave out but not send as null (services.ticket_patch refuses null).
NOT_NULL = ("status", "severity", "severity_reason", "escalate", "out_of_scope")


def _patch_schema(schema: dict[str, Any]) -> None:
    """Declare what services.ticket_patch checks, so the schema says what gets a 422."""
    for name in NOT_NULL:
        field = schema["properties"][name]
        (kind,) = [k for k in field.pop("anyOf") if k != {"type": "null"}]
        field.update(kind)
    schema["minProperties"] = 1
    schema["dependentRequired"] = {
        "severity": ["severity_reason"],
        "severity_reason": ["severity"],
    }
    schema["not"] = {"required": ["status", "out_of_scope"]}


class TicketPatch(_In):
    """Changes, applied together or not at all; staff only (customers follow their tickets
    and reply, they do not re-triage them). At least one field; only `assignee_id` may be
    null; `severity` and `severity_reason` go together; not both `status` and `out_of_scope`."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)

    status: Status | None = Field(
        default=None, description="Closing as out of scope is `out_of_scope`, not a status"
    )
    assignee_id: Id | None = Field(
        default=None, description="A staff member's id; null unassigns (staff only)"
    )
    severity: Severity | None = Field(default=None, description="Staff only; needs a reason")
    severity_reason: Text | None = Field(
        default=None, description="Why the severity changes; only with `severity`"
    )
    escalate: Escalation | None = Field(default=None, description="Staff only")
    out_of_scope: OutOfScope | None = Field(
        default=None, description="Close as out of scope (staff only)"
    )


class MessageCreate(_In):
    body: NotBlankText
    body_format: BodyFormat = BodyFormat.TEXT
    internal: Flag = Field(default=False, description="An internal note (staff only)")


class ImportedTicket(_In):
    """One ticket of another helpdesk, with its own history."""

    organisation_id: Id
    requester_email: Email | None = None
    subject: NotBlankLine
    body: Text = ""
    severity: Severity
    type: TicketType = TicketType.INCIDENT
    channel: Channel
    opened_at: Instant
    first_response_at: Instant | None = None
    status: Status
    external_id: Annotated[
        str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$")
    ]


class TicketImport(_In):
    tickets: list[ImportedTicket] = Field(min_length=1, max_length=500)


# -- Responses ------------------------------------------------------------------------------


class Named(BaseModel):
    id: int
    name: str


class Person(BaseModel):
    id: int
    name: str
    email: str


class PolicyVersionOut(BaseModel):
    id: int
    policy: str
    effective_date: date


class FirstResponseOut(BaseModel):
    due_at: str | None = Field(description="ISO 8601 UTC (Z); null when the policy states none")
    status: Literal["pending", "met", "breached", "no_target"] = Field(
        description="pending while the clock runs; breached once past due (answered or not); "
        "met if answered in time; no_target when the policy states no Target Initial Response "
        "for this support level and severity"
    )
    responded_at: str | None


class SlaOut(BaseModel):
    first_response: FirstResponseOut


class TicketOut(BaseModel):
    id: int
    reference: str
    organisation: Named
    requester: Person | None
    subject: str
    body: str
    body_format: BodyFormat
    severity: int
    type: TicketType
    channel: Channel
    status: Status
    assignee: Named | None
    region: str
    received_at: str
    created_at: str
    updated_at: str
    version: int
    escalated_at: str | None
    out_of_scope: str = Field(description="The exclusion key it was closed with, or empty")
    support_level: str
    policy_version: PolicyVersionOut
    sla: SlaOut


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done")


class TicketList(BaseModel):
    items: list[TicketOut]


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    internal: bool
    message_id: int | None
    created_at: str
    download_url: str


class AttachmentList(BaseModel):
    items: list[AttachmentOut]


class Author(BaseModel):
    kind: Literal["staff", "support_contact"]
    id: int
    name: str


class MessageOut(BaseModel):
    id: int
    kind: MessageKind
    internal: bool
    author: Author | None
    body: str
    body_format: BodyFormat
    body_html: str = Field(description="The body as the Support Hub shows it (sanitised)")
    created_at: str
    attachments: list[AttachmentOut]


class MessageList(BaseModel):
    items: list[MessageOut]


class Error(BaseModel):
    detail: str
    errors: dict[str, list[str]] | None = Field(
        default=None, description="Messages by field, e.g. `tickets[3].opened_at`"
    )


class StaleVersion(BaseModel):
    detail: str
    current_version: int
