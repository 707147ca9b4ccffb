"""The REST API: tickets, their conversation and files, and the import of history.

Thin operations: parse (pydantic), call a service or selector with the request's viewer,
render. Every error is JSON with a `detail` message (and `errors` by field), never a trace.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from ninja import File, NinjaAPI, P, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestInvalid
from ninja.files import UploadedFile
from ninja.operation import Operation
from ninja.params import FormEx, HeaderEx, PathEx, Query, QueryEx
from pydantic import Field

from supporthub.api import representations as show
from supporthub.api import services
from supporthub.api.auth import BearerToken, Session, viewer_of
from supporthub.api.docs import LocalSwagger
from supporthub.api.limits import BODY_LIMIT, body_limit, size_text
from supporthub.api.schemas import (
    DIGITS,
    PATTERN_MESSAGES,
    AttachmentList,
    AttachmentOut,
    Error,
    Instant,
    MessageCreate,
    MessageList,
    MessageOut,
    OptionalWireId,
    StaleVersion,
    TicketCreate,
    TicketImport,
    TicketList,
    TicketOut,
    TicketPage,
    TicketPatch,
    WireId,
    WireSeverity,
)
from supporthub.api.selectors import MAX_PAGE, TicketFilters, ticket_page
from supporthub.dse.api import router as dse_router
from supporthub.tickets.conversation import attachment_add
from supporthub.tickets.locks import VersionConflict
from supporthub.tickets.models import Channel, FirstResponseStatus, TicketType
from supporthub.tickets.models import Status as TicketStatus
from supporthub.tickets.rendering import attachment_response
from supporthub.tickets.selectors import (
    attachment_for,
    attachments_for,
    messages_for,
    ticket_for,
)
from supporthub.tickets.services import ticket_reply

logger = logging.getLogger(__name__)


class PayloadTooLarge(Exception):
    """A file over the size limit (413); `field` names the request field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


DESCRIPTION = """\
The Support Hub REST API: open tickets for an organisation's Support Contacts, follow their
first-response clock (`sla.first_response`) and conversation, and import history.

**Authentication**: `Authorization: Bearer <token>`. Tokens are made with
`supporthub api-token create --organisation NAME --name LABEL` (acts for that organisation)
or `--staff USERNAME` (acts as that staff login). The Support Hub's own pages use the
browser session instead (unsafe methods then need the `X-CSRFToken` header).

**Concurrency**: a ticket's `ETag` is its `version`; `PATCH` needs `If-Match` (428 without it).
**Retries**: send an `Idempotency-Key` header with `POST /api/tickets` to create at most once.
**Errors**: JSON `{"detail": "...", "errors": {"field": ["..."]}}`.
"""
LIMITS = f"""\
**Limits**: a request body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes
(`DATA_UPLOAD_MAX_MEMORY_SIZE`) gets 413, as does an attachment over `ATTACHMENT_MAX_BYTES`
({settings.ATTACHMENT_MAX_BYTES:,} bytes).
"""


class SupportHubAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__


api = SupportHubAPI(
    title="Support Hub API",
    version="1",
    description=DESCRIPTION + LIMITS,
    urls_namespace="api",
    auth=[BearerToken(), Session()],
    docs=LocalSwagger(),
)

api.add_router("/dse", dse_router)  # the Designated Support Engineer package

TicketId = PathEx[WireId, P(description="The ticket's id")]
AttachmentId = PathEx[WireId, P(description="The attachment's id")]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE), DIGITS]
# Where a parameter's type carries its own Field (or more metadata than the Param), its default
# goes in P(default=...) too: ninja sets the default on the Param after building it, which
# pydantic does not see when it merges the two, so the parameter would become required.
IdempotencyKey = HeaderEx[
    str | None,
    P(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Create at most once: a retry with the same key and body returns the same "
        "ticket (header `Idempotent-Replayed: true`); another body gets 422; 409 while the "
        "first request is still running",
    ),
]
IF_MATCH = "If-Match"
IfMatch = HeaderEx[
    str,
    P(
        alias=IF_MATCH,
        max_length=200,
        description='The ETag you read, e.g. "7" (required: 428 without it, 412 when stale)',
    ),
]

# Error answers every authenticated operation may give; 400 too where a JSON body is read.
ERRORS: dict[int, Any] = {401: Error, 403: Error, 404: Error, 422: Error}
JSON_ERRORS: dict[int, Any] = {400: Error, 413: Error, **ERRORS}


# -- Tickets ----------------------------------------------------------------------------------


@api.post(
    "/tickets",
    response={201: TicketOut, 409: Error, **JSON_ERRORS},
    tags=["tickets"],
    url_name="ticket_create",
    summary="Open a ticket",
    openapi_extra=BODY_LIMIT,
)
def ticket_create(
    request: HttpRequest,
    response: HttpResponse,
    data: TicketCreate,
    idempotency_key: IdempotencyKey = None,
) -> Status[dict[str, Any]]:
    """Open a ticket; 201 with the ticket, its `ETag` and `Location`.

    The Severity defaults to the policy's default severity; the first-response clock starts
    now under the policy, subscription and support level in force.
    """
    viewer = viewer_of(request)
    if idempotency_key is None:
        ticket = services.ticket_create(viewer=viewer, data=data)
    else:
        body_hash = services.request_hash(json.loads(request.body))
        ticket, replayed = services.ticket_create_once(
            viewer=viewer, data=data, key=idempotency_key, body_hash=body_hash
        )
        if replayed:
            response["Idempotent-Replayed"] = "true"
    response["ETag"] = show.etag(ticket)
    response["Location"] = show.ticket_url(ticket)
    return Status(201, show.ticket_out(ticket))


@api.get(
    "/tickets",
    response={200: TicketPage, **ERRORS},
    tags=["tickets"],
    url_name="tickets",
    summary="List tickets",
)
def ticket_list(
    request: HttpRequest,
    status: Query[list[TicketStatus] | None] = None,
    severity: Query[WireSeverity | None] = None,
    organisation_id: QueryEx[WireId | None, P(description="Staff")] = None,
    assignee_id: Query[WireId | None] = None,
    type: Query[TicketType | None] = None,
    channel: Query[Channel | None] = None,
    first_response_status: Query[FirstResponseStatus | None] = None,
    breaching_before: QueryEx[
        Instant | None,
        P(
            description="Running clocks due at or before this instant: ISO 8601 (RFC 3339) "
            "with seconds and an offset, e.g. `2026-03-04T12:00:00Z`; anything else (a Unix "
            "time, a date alone, no offset) gets 422. Years 1970 to 2999."
        ),
    ] = None,
    cursor: QueryEx[str | None, P(max_length=200, pattern=r"^[A-Za-z0-9_=-]*$")] = None,
    limit: QueryEx[PageSize, P(default=25)] = 25,
) -> dict[str, Any]:
    """Tickets the caller may see, newest received first, a page at a time (`next_cursor`)."""
    viewer = viewer_of(request)
    now = timezone.now()
    page = ticket_page(
        viewer,
        filters=TicketFilters(
            status=tuple(status or ()),
            severity=severity,
            organisation_id=organisation_id,
            assignee_id=assignee_id,
            type=type,
            channel=channel,
            first_response_status=first_response_status,
            breaching_before=breaching_before,
        ),
        cursor=cursor,
        limit=limit,
        now=now,
    )
    return {
        "items": [show.ticket_out(t, now=now) for t in page.tickets],
        "next_cursor": page.next_cursor,
    }


@api.get(
    "/tickets/{ticket_id}",
    response={200: TicketOut, **ERRORS},
    tags=["tickets"],
    url_name="ticket_get",
    summary="Read a ticket",
)
def ticket_get(request: HttpRequest, response: HttpResponse, ticket_id: TicketId) -> dict[str, Any]:
    """One ticket, with its version as `ETag` (send it back in `If-Match` to change it)."""
    ticket = ticket_for(viewer_of(request), ticket_id)
    response["ETag"] = show.etag(ticket)
    return show.ticket_out(ticket)


@api.patch(
    "/tickets/{ticket_id}",
    response={200: TicketOut, 412: StaleVersion, 428: Error, **JSON_ERRORS},
    tags=["tickets"],
    url_name="ticket_patch",
    summary="Change a ticket",
    openapi_extra=BODY_LIMIT,
)
def ticket_patch(
    request: HttpRequest,
    response: HttpResponse,
    ticket_id: TicketId,
    changes: TicketPatch,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change status, assignee, severity (with a reason), escalate or close as out of scope:
    all or nothing, against the version in `If-Match` (428 without it). Staff only."""
    ticket = services.ticket_patch(
        viewer=viewer_of(request),
        ticket_id=ticket_id,
        expected_version=_if_match_version(if_match),
        changes=changes,
    )
    response["ETag"] = show.etag(ticket)
    return show.ticket_out(ticket)


def _if_match_version(header: str) -> int | None:
    """The version an If-Match names ("7", 7 or W/"7"); None for `*` (any version, as HTTP
    says); -1 for anything else (no version, or several), which never matches."""
    versions = []
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return None
        tag = tag.removeprefix("W/").strip('"')
        if tag.isdigit():
            versions.append(int(tag))
    return versions[0] if len(versions) == 1 else -1


# -- Conversation -----------------------------------------------------------------------------


@api.get(
    "/tickets/{ticket_id}/messages",
    response={200: MessageList, **ERRORS},
    tags=["conversation"],
    url_name="messages",
    summary="Read the conversation",
)
def message_list(request: HttpRequest, ticket_id: TicketId) -> dict[str, Any]:
    """The conversation, oldest first; customers never see internal notes."""
    viewer = viewer_of(request)
    ticket = ticket_for(viewer, ticket_id)
    return {"items": [show.message_out(m) for m in messages_for(viewer, ticket)]}


@api.post(
    "/tickets/{ticket_id}/messages",
    response={201: MessageOut, **JSON_ERRORS},
    tags=["conversation"],
    url_name="message_create",
    summary="Reply or add an internal note",
    openapi_extra=BODY_LIMIT,
)
def message_create(
    request: HttpRequest, response: HttpResponse, ticket_id: TicketId, data: MessageCreate
) -> Status[dict[str, Any]]:
    """Reply (or, staff only, add an internal note); the ticket's new version is the `ETag`.
    A staff member's first public reply stops the first-response clock."""
    viewer = viewer_of(request)
    ticket = ticket_for(viewer, ticket_id)
    message = ticket_reply(
        ticket=ticket,
        viewer=viewer,
        body=data.body,
        internal=data.internal,
        body_format=data.body_format,
    )
    response["ETag"] = show.etag(ticket)
    return Status(201, show.message_out(message, attachments=[]))


@api.get(
    "/tickets/{ticket_id}/attachments",
    response={200: AttachmentList, **ERRORS},
    tags=["conversation"],
    url_name="attachments",
    summary="List attachments",
)
def attachment_list(request: HttpRequest, ticket_id: TicketId) -> dict[str, Any]:
    """The ticket's files; customers never see those of internal notes."""
    viewer = viewer_of(request)
    ticket = ticket_for(viewer, ticket_id)
    return {"items": [show.attachment_out(a) for a in attachments_for(viewer, ticket)]}


@api.post(
    "/tickets/{ticket_id}/attachments",
    response={201: AttachmentOut, 400: Error, 413: Error, **ERRORS},
    tags=["conversation"],
    url_name="attachment_create",
    summary="Attach a file",
)
def attachment_create(
    request: HttpRequest,
    ticket_id: TicketId,
    file: File[UploadedFile],
    message_id: FormEx[
        OptionalWireId, P(default=None, description="One of the ticket's messages")
    ] = None,
) -> Status[dict[str, Any]]:
    """Attach a file (multipart field `file`), optionally to one of the ticket's messages."""
    viewer = viewer_of(request)
    ticket = ticket_for(viewer, ticket_id)
    limit = settings.ATTACHMENT_MAX_BYTES
    if file.size is not None and file.size > limit:
        raise PayloadTooLarge(
            f"{file.name} is {size_text(file.size)}; the limit is {size_text(limit)} per file.",
            "file",
        )
    message = None
    if message_id is not None:
        message = messages_for(viewer, ticket).filter(pk=message_id).first()
        if message is None:
            raise ValidationError(
                {"message_id": f"{ticket.reference} has no message {message_id}."}
            )
    attachment = attachment_add(ticket=ticket, upload=file, viewer=viewer, message=message)
    return Status(201, show.attachment_out(attachment))


@api.get(
    "/tickets/{ticket_id}/attachments/{attachment_id}",
    response={200: None, **ERRORS},
    tags=["conversation"],
    url_name="attachment_download",
    summary="Download an attachment",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, always as a download",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def attachment_download(
    request: HttpRequest, ticket_id: TicketId, attachment_id: AttachmentId
) -> FileResponse:
    """The file as a download (`Content-Disposition: attachment`), never shown inline."""
    viewer = viewer_of(request)
    ticket = ticket_for(viewer, ticket_id)
    return attachment_response(attachment_for(viewer, ticket, attachment_id))


# -- Import -----------------------------------------------------------------------------------


@api.post(
    "/import/tickets",
    response={201: TicketList, **JSON_ERRORS},
    auth=[BearerToken(staff_only=True), Session(staff_only=True)],
    tags=["import"],
    url_name="tickets_import",
    summary="Import tickets (staff)",
    openapi_extra=BODY_LIMIT,
)
def tickets_import(request: HttpRequest, data: TicketImport) -> Status[dict[str, Any]]:
    """Staff only: up to 500 tickets of another helpdesk, all or nothing. Each is measured
    from its `opened_at` under what was in force then; a `first_response_at` records met or
    breached. An `external_id` already imported for the organisation is refused."""
    tickets = services.tickets_import(viewer=viewer_of(request), items=data.tickets)
    return Status(201, {"items": [show.ticket_out(t) for t in tickets]})


# -- Errors ---------------------------------------------------------------------------------


def _error(
    request: HttpRequest,
    status: int,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return api.create_response(request, body, status=status)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = {field: list(messages) for field, messages in exc.message_dict.items()}
        named = [
            f"{field}: {messages[0]}" if field != "__all__" else messages[0]
            for field, messages in errors.items()
        ]
        return _error(request, 422, "; ".join(named), errors)
    return _error(request, 422, " ".join(exc.messages))


@api.exception_handler(RequestInvalid)
def _request_invalid(request: HttpRequest, exc: RequestInvalid) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        field = _field_name(error.get("loc", ()))
        kind = error.get("type")
        if kind == "missing" and field == IF_MATCH:
            return _error(
                request,
                428,
                'Send If-Match with the ETag you read (e.g. If-Match: "3"), so changes made '
                "since are not overwritten.",
            )
        message = str(error.get("msg", "is not valid"))
        if kind == "extra_forbidden":
            message = "Unknown field; this operation does not take it."
        elif kind == "missing":
            message = "Required."
        elif kind == "value_error" and "error" in error.get("ctx", {}):
            reason = str(error["ctx"]["error"])  # the message without "Value error, "
            message = reason[:1].upper() + reason[1:]
        elif kind == "string_pattern_mismatch":
            message = PATTERN_MESSAGES.get(str(error.get("ctx", {}).get("pattern")), message)
        errors.setdefault(field, []).append(message)
    detail = "; ".join(f"{field}: {messages[0]}" for field, messages in errors.items())
    return _error(request, 422, detail, errors)


# Where ninja says a value came from; the request's own field names follow.
_SOURCES = {"body", "query", "path", "header", "form", "file", "cookie"}
# ninja names the whole body after the operation's parameter; clients never see that name.
_BODY_PARAMS = {"data", "changes"}


def _field_name(loc: Any) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if source == "body" and parts and parts[0] in _BODY_PARAMS:
            parts.pop(0)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "You may not do this.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found.")


@api.exception_handler(VersionConflict)
def _stale(request: HttpRequest, exc: VersionConflict) -> HttpResponse:
    response = _error(request, 412, str(exc), current_version=exc.current)
    response["ETag"] = f'"{exc.current}"'
    return response


@api.exception_handler(services.IdempotencyMismatch)
def _key_reused(request: HttpRequest, exc: services.IdempotencyMismatch) -> HttpResponse:
    return _error(request, 422, str(exc), {"Idempotency-Key": [str(exc)]})


@api.exception_handler(services.IdempotencyInProgress)
def _key_in_progress(request: HttpRequest, exc: services.IdempotencyInProgress) -> HttpResponse:
    response = _error(request, 409, str(exc))
    response["Retry-After"] = "1"
    return response


@api.exception_handler(PayloadTooLarge)
def _too_large(request: HttpRequest, exc: PayloadTooLarge) -> HttpResponse:
    return _error(request, 413, str(exc), {exc.field: [str(exc)]})


@api.exception_handler(RequestDataTooBig)
def _body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    detail = f"The request body is over the limit of {body_limit()}."
    return _error(request, 413, detail, {"body": [detail]})


@api.exception_handler(SuspiciousOperation)
def _bad_request(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return _error(request, 400, "The request could not be read.")


@api.exception_handler(MultiPartParserError)
def _bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return _error(request, 400, f"The request body is not valid multipart/form-data ({exc}).")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = exc.message
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        detail = f"The request body is not valid JSON ({exc.__cause__})."
    elif isinstance(exc, AuthenticationError) and detail == "Unauthorized":
        detail = "Authenticate with `Authorization: Bearer <token>` (or a logged-in session)."
    response = _error(request, exc.status_code, detail)
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="Support Hub API"'
    return response


@api.exception_handler(Exception)
def _internal(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error(
        "API %s %s failed",
        request.method,
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return _error(request, 500, "Internal error")
