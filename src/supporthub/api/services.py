"""Writes of the REST API: bearer tokens, and the idempotency keys of ticket creation."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.api.models import ApiToken, IdempotencyRecord
from supporthub.api.schemas import NOT_NULL, ImportedTicket, TicketCreate, TicketPatch
from supporthub.api.selectors import tickets_for_api
from supporthub.customers.models import Organisation, SupportContact
from supporthub.customers.selectors import (
    Entitlement,
    entitlement_on,
    local_date,
    requester_and_entitlement,
)
from supporthub.staff.models import StaffMember
from supporthub.tickets.locks import VersionConflict
from supporthub.tickets.models import BodyFormat, Channel, Status, Ticket, TicketType
from supporthub.tickets.opening import TicketRequest, ticket_import, ticket_open
from supporthub.tickets.selectors import ticket_for
from supporthub.tickets.services import (
    ticket_assign,
    ticket_change_severity,
    ticket_close_out_of_scope,
    ticket_escalate,
    ticket_set_status,
)

TOKEN_PREFIX = "sh_"  # noqa: S105 - a recognisable prefix, not a secret
PREFIX_LENGTH = 10  # what `api-token list` and the admin show to recognise a token
# A token's last use is written at most this often: reads are the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A claim whose request never finished (the process died) is given up after this long.
ABANDONED_CLAIM = timedelta(minutes=5)


def token_hash(raw: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *,
    name: str,
    organisation: Organisation | None = None,
    staff_user: User | None = None,
) -> tuple[ApiToken, str]:
    """A new token scoped to an organisation or to a staff login; the raw token is returned
    once and never stored."""
    if (organisation is None) == (staff_user is None):
        raise ValidationError("Scope a token to an organisation or to a staff login (one of them).")
    if not name.strip():
        raise ValidationError({"name": "Name the token after what uses it, e.g. 'CRM sync'."})
    if staff_user is not None:
        is_staff = StaffMember.objects.filter(user=staff_user, is_active=True).exists()
        if not staff_user.is_active or not (is_staff or staff_user.is_superuser):
            raise ValidationError(
                {"staff_user": f"{staff_user.get_username()} is not an active staff login."}
            )
    token = ApiToken(name=name.strip(), organisation=organisation, staff_user=staff_user)
    raw = api_token_secret(token)
    token.full_clean(exclude=["organisation", "staff_user"])
    token.save()
    return token, raw


def api_token_secret(token: ApiToken) -> str:
    """Give an unsaved token its secret: the raw token is returned, only its hash kept."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token.prefix = raw[:PREFIX_LENGTH]
    token.key_hash = token_hash(raw)
    return raw


def api_token_revoke(*, token: ApiToken, at: datetime | None = None) -> ApiToken:
    """Refuse the token from now on (kept, so its uses stay explainable)."""
    if token.revoked_at is None:
        token.revoked_at = at or timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record a use, at most once a minute per token (no write on every request)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


# -- Idempotency-Key ------------------------------------------------------------------------


def request_hash(body: Any) -> str:
    """SHA-256 of the canonical JSON of a request body (key order and spacing ignored)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyMismatch(Exception):
    """The key was used before with another request body."""


class IdempotencyInProgress(Exception):
    """The first request with this key has not finished yet."""


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: a fresh claim to fulfil, or the ticket made before."""

    record: IdempotencyRecord
    replay_ticket_id: int | None = None


def idempotency_claim(*, caller: str, key: str, body_hash: str, _retries: int = 2) -> Claim:
    """Claim `key` for `caller` in its own committed transaction, so a concurrent duplicate
    sees it at once; or return what the first request with the key made."""
    try:
        with transaction.atomic(durable=True):  # committed when the block ends, never nested
            record = IdempotencyRecord.objects.create(
                caller=caller, key=key, request_hash=body_hash
            )
        return Claim(record=record)
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.filter(caller=caller, key=key).first()
    if existing is None:  # released between our insert and this read: the key is free again
        if _retries:
            return idempotency_claim(
                caller=caller, key=key, body_hash=body_hash, _retries=_retries - 1
            )
        raise IdempotencyInProgress(
            "Another request with this Idempotency-Key is starting; retry in a moment."
        )
    if existing.request_hash != body_hash:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request body; use a new "
            "key for a different ticket."
        )
    if existing.ticket_id is None:
        if existing.created_at < timezone.now() - ABANDONED_CLAIM and _take_over(existing):
            return Claim(record=existing)
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still in progress; retry in a moment."
        )
    return Claim(record=existing, replay_ticket_id=existing.ticket_id)


def _take_over(record: IdempotencyRecord) -> bool:
    """Re-claim a claim abandoned by a request that died; only one caller wins."""
    now = timezone.now()
    won = IdempotencyRecord.objects.filter(
        pk=record.pk, ticket__isnull=True, created_at=record.created_at
    ).update(created_at=now)
    record.created_at = now
    return won == 1


def idempotency_fulfil(*, record: IdempotencyRecord, ticket: Ticket) -> None:
    """Record the ticket the claimed request made (in the transaction that made it)."""
    record.ticket = ticket
    record.save(update_fields=["ticket"])


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """The request failed: free the key so the client can retry with it."""
    IdempotencyRecord.objects.filter(pk=record.pk, ticket__isnull=True).delete()


# -- Tickets through the API ------------------------------------------------------------------


@contextmanager
def fields_named(names: dict[str, str]) -> Iterator[None]:
    """Report a core service's field errors under the API's field names."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {names.get(field, field): errors for field, errors in exc.error_dict.items()}
        ) from exc


def _works_with(viewer: Viewer, organisation: Organisation) -> bool:
    if viewer.sees_all_tickets:
        return True
    staff = viewer.staff
    return staff is not None and staff.pk in (
        organisation.account_manager_id,
        organisation.project_manager_id,
    )


def _staff_organisation(viewer: Viewer, organisation_id: int, field: str) -> Organisation:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or not _works_with(viewer, organisation):
        raise ValidationError({field: f"No organisation {organisation_id} that you work with."})
    return organisation


def _organisation_for(viewer: Viewer, organisation_id: int | None) -> Organisation:
    own = viewer.organisation
    if own is not None:
        if organisation_id is not None and organisation_id != own.pk:
            raise PermissionDenied(
                f"organisation_id: this caller acts for {own.name} (organisation {own.pk}) and "
                "cannot open tickets for another organisation."
            )
        if not viewer.can_open_incidents:
            raise PermissionDenied(viewer.why_cannot_open())
        return own
    if not viewer.is_staff:
        raise PermissionDenied("Only Support Contacts and staff open tickets.")
    if organisation_id is None:
        raise ValidationError(
            {"organisation_id": "Staff name the organisation the ticket is for (organisation_id)."}
        )
    return _staff_organisation(viewer, organisation_id, "organisation_id")


def _requester_for(
    viewer: Viewer, organisation: Organisation, data: TicketCreate, received_at: datetime
) -> tuple[SupportContact, str, Entitlement | None]:
    """The reporting Support Contact, the request field that named it, and the entitlement
    in force at `received_at` when it was read with the requester (None: not read)."""
    if viewer.contact is not None and viewer.token_id is None:
        contact = viewer.contact
        if data.requester_id is not None and data.requester_id != contact.pk:
            raise ValidationError(
                {"requester_id": "A Support Hub login reports as its own Support Contact."}
            )
        if data.requester_email is not None and (
            data.requester_email.strip().lower() != contact.email.lower()
        ):
            raise ValidationError(
                {"requester_email": "A Support Hub login reports as its own Support Contact."}
            )
        return contact, "requester_email", None
    if data.requester_id is not None and data.requester_email is not None:
        raise ValidationError({"requester_id": "Give requester_email or requester_id, not both."})
    found: SupportContact | None
    entitlement = None
    if data.requester_id is not None:
        field, named = "requester_id", str(data.requester_id)
        contacts = SupportContact.objects.filter(organisation=organisation)
        found = contacts.filter(pk=data.requester_id).first()
    elif data.requester_email is not None:
        # The requester and the entitlement in one statement: the create needs both.
        field, named = "requester_email", data.requester_email.strip()
        found, entitlement = requester_and_entitlement(
            organisation=organisation, email=named, on=local_date(organisation, received_at)
        )
    else:
        raise ValidationError(
            {
                "requester_email": f"Name the Support Contact of {organisation.name} who "
                "reports this (requester_email or requester_id)."
            }
        )
    if found is None:
        raise ValidationError({field: f"{named} is not a Support Contact of {organisation.name}."})
    if not found.is_active:
        raise ValidationError(
            {field: f"{found.name} is no longer an active Support Contact of {organisation.name}."}
        )
    found.organisation = organisation  # in hand: nothing downstream loads it again
    return found, field, entitlement


def _entitlement_today(organisation: Organisation, now: datetime) -> Entitlement:
    today = local_date(organisation, now)
    entitlement = entitlement_on(organisation=organisation, on=today)
    if entitlement is None:
        raise ValidationError(
            f"{organisation.name} has no subscription in force on {today.isoformat()}.",
            code="no_subscription",
        )
    return entitlement


def ticket_create(*, viewer: Viewer, data: TicketCreate) -> Ticket:
    """Open a ticket for the caller: channel `api` for tokens, `hub` for a browser session."""
    organisation = _organisation_for(viewer, data.organisation_id)
    # One instant for the whole create: the entitlement read with the requester is the one
    # in force when ticket_open receives the ticket.
    received_at = timezone.now()
    requester, field, entitlement = _requester_for(viewer, organisation, data, received_at)
    severity = data.severity
    if severity is None:
        # The policy's default severity: ticket_open is given the entitlement read for it
        # (one query, not two).
        if entitlement is None:
            entitlement = _entitlement_today(organisation, received_at)
        severity = entitlement.policy.default_severity
    with fields_named({"requester": field}):
        return ticket_open(
            request=TicketRequest(
                organisation=organisation,
                requester=requester,
                subject=data.subject,
                body=data.body,
                severity=severity,
                channel=Channel.API if viewer.token_id is not None else Channel.HUB,
                type=TicketType(data.type),
                body_format=BodyFormat(data.body_format),
                received_at=received_at,
            ),
            actor=viewer.user,
            entitlement=entitlement,
        )


def ticket_create_once(
    *, viewer: Viewer, data: TicketCreate, key: str, body_hash: str
) -> tuple[Ticket, bool]:
    """Create under an Idempotency-Key: (ticket, replayed). The claim is committed first;
    the ticket and its record are written together; a failure frees the key."""
    claim = idempotency_claim(caller=viewer.caller_key, key=key, body_hash=body_hash)
    if claim.replay_ticket_id is not None:
        replay = tickets_for_api(viewer).filter(pk=claim.replay_ticket_id).first()
        if replay is None:
            raise Http404("No such ticket.")
        return replay, True
    try:
        with transaction.atomic(durable=True):
            ticket = ticket_create(viewer=viewer, data=data)
            idempotency_fulfil(record=claim.record, ticket=ticket)
    except BaseException:
        idempotency_release(record=claim.record)
        raise
    return ticket, False


# Fields of a PATCH only staff may send (the core refuses status changes by customers too).
STAFF_ONLY = ("status", "assignee_id", "severity", "severity_reason", "escalate", "out_of_scope")


def ticket_patch(
    *, viewer: Viewer, ticket_id: int, expected_version: int | None, changes: TicketPatch
) -> Ticket:
    """Apply every change or none, against the version the caller read (None: any)."""
    sent = changes.model_fields_set
    if not sent:
        raise ValidationError(
            "Nothing to change: send at least one of " + ", ".join(STAFF_ONLY) + "."
        )
    for name in NOT_NULL:
        if name in sent and getattr(changes, name) is None:
            raise ValidationError({name: "Must not be null."})
    if changes.severity is not None and not (changes.severity_reason or "").strip():
        raise ValidationError({"severity_reason": "Say why the severity changes."})
    if changes.severity_reason is not None and changes.severity is None:
        raise ValidationError({"severity_reason": "Send it with a new severity."})
    if changes.status is not None and changes.out_of_scope is not None:
        raise ValidationError(
            {"out_of_scope": "Closing as out of scope sets the status; do not send both."}
        )
    with transaction.atomic():
        ticket = ticket_for(viewer, ticket_id, for_update=True)
        refused = [name for name in STAFF_ONLY if name in sent]
        if not viewer.is_staff and refused:
            raise PermissionDenied(f"Only staff can change {', '.join(refused)}.")
        if expected_version is not None and ticket.version != expected_version:
            raise VersionConflict(ticket.version)
        if changes.severity is not None:
            with fields_named({"reason": "severity_reason"}):
                ticket_change_severity(
                    ticket=ticket,
                    severity=changes.severity,
                    reason=changes.severity_reason or "",
                    actor=viewer.user,
                    expected_version=ticket.version,
                )
        if "assignee_id" in sent:
            assignee = None
            if changes.assignee_id is not None:
                assignee = StaffMember.objects.filter(pk=changes.assignee_id).first()
                if assignee is None:
                    raise ValidationError(
                        {"assignee_id": f"No staff member {changes.assignee_id}."}
                    )
            with fields_named({"assignee": "assignee_id"}):
                ticket_assign(
                    ticket=ticket,
                    assignee=assignee,
                    viewer=viewer,
                    expected_version=ticket.version,
                )
        if changes.escalate is not None:
            with fields_named({"reason": "escalate.reason"}):
                ticket_escalate(
                    ticket=ticket,
                    reason=changes.escalate.reason,
                    viewer=viewer,
                    expected_version=ticket.version,
                )
        if changes.status is not None:
            ticket_set_status(
                ticket=ticket,
                status=Status(changes.status),
                viewer=viewer,
                expected_version=ticket.version,
            )
        if changes.out_of_scope is not None:
            with fields_named(
                {
                    "exclusion": "out_of_scope.exclusion",
                    "note": "out_of_scope.note",
                    "status": "out_of_scope",
                }
            ):
                ticket_close_out_of_scope(
                    ticket=ticket,
                    exclusion=changes.out_of_scope.exclusion,
                    note=changes.out_of_scope.note,
                    viewer=viewer,
                    expected_version=ticket.version,
                )
    return tickets_for_api(viewer).filter(pk=ticket.pk).first() or ticket


# -- Import -------------------------------------------------------------------------------------


def tickets_import(*, viewer: Viewer, items: Sequence[ImportedTicket]) -> list[Ticket]:
    """Import tickets of another helpdesk, all or nothing; every error names its item and
    field (`tickets[3].opened_at`)."""
    if not viewer.is_staff:
        raise PermissionDenied("Only staff can import tickets.")
    errors: dict[str, list[str]] = {}

    def fail(index: int, field: str | None, message: str) -> None:
        errors.setdefault(f"tickets[{index}]" + (f".{field}" if field else ""), []).append(message)

    organisation_ids = {item.organisation_id for item in items}
    organisations = Organisation.objects.in_bulk(organisation_ids)
    contacts = {
        (c.organisation_id, c.email.lower()): c
        for c in SupportContact.objects.filter(organisation_id__in=organisation_ids)
    }
    taken = {
        (organisation_id, external_id): pk
        for organisation_id, external_id, pk in Ticket.objects.filter(
            organisation_id__in=organisation_ids,
            external_id__in={item.external_id.strip() for item in items},
        ).values_list("organisation_id", "external_id", "pk")
    }
    in_batch: dict[tuple[int, str], int] = {}
    plans: list[tuple[int, ImportedTicket, Organisation, SupportContact | None]] = []
    for index, item in enumerate(items):
        organisation = organisations.get(item.organisation_id)
        if organisation is None or not _works_with(viewer, organisation):
            fail(
                index,
                "organisation_id",
                f"No organisation {item.organisation_id} that you work with.",
            )
            continue
        external_id = item.external_id.strip()
        key = (organisation.pk, external_id)
        if key in taken:
            fail(
                index,
                "external_id",
                f"{organisation.name} already has a ticket with external id {external_id!r} "
                f"(SH-{taken[key]:06d}); it was imported before.",
            )
        elif key in in_batch:
            fail(
                index,
                "external_id",
                f"Repeats tickets[{in_batch[key]}]'s external id {external_id!r}.",
            )
        in_batch.setdefault(key, index)
        requester = None
        if item.requester_email is not None:
            requester = contacts.get((organisation.pk, item.requester_email.strip().lower()))
            if requester is None:
                fail(
                    index,
                    "requester_email",
                    f"{item.requester_email} is not a Support Contact of {organisation.name}.",
                )
                continue
            requester.organisation = organisation
        plans.append((index, item, organisation, requester))
    if errors:
        raise ValidationError(errors)

    created: list[Ticket] = []
    with transaction.atomic():
        for index, item, organisation, requester in plans:
            try:
                ticket = ticket_import(
                    organisation=organisation,
                    requester=requester,
                    subject=item.subject,
                    body=item.body,
                    severity=item.severity,
                    type=TicketType(item.type),
                    channel=Channel(item.channel),
                    opened_at=item.opened_at,
                    first_response_at=item.first_response_at,
                    status=Status(item.status),
                    external_id=item.external_id.strip(),
                    viewer=viewer,
                )
            except ValidationError as exc:
                for field, messages in _by_field(exc).items():
                    name = {"requester": "requester_email", NON_FIELD_ERRORS: None}.get(
                        field, field
                    )
                    for message in messages:
                        fail(index, name, message)
                continue
            except IntegrityError:  # imported by a concurrent request since the check above
                fail(
                    index,
                    "external_id",
                    f"{organisation.name} already has a ticket with external id "
                    f"{item.external_id.strip()!r}.",
                )
                continue
            created.append(ticket)
        if errors:
            raise ValidationError(errors)  # leaves the block: nothing is kept
    return created


def _by_field(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    return {NON_FIELD_ERRORS: list(exc.messages)}
