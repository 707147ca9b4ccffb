"""Linking a helpdesk ticket to an engineering issue (by pasting its URL) and unlinking it.
Each is one transaction; linking adds the "logged" note, then catches the link up with
what is already known of the issue (another ticket may be linked to it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.development import progress
from supporthub.development.models import (
    EngineeringIssue,
    PullRequest,
    TicketLink,
    Tracker,
    TrackerConnection,
)
from supporthub.development.payloads import github_issue_id
from supporthub.development.stages import Stage
from supporthub.tickets.audit import audit
from supporthub.tickets.locks import require_staff, ticket_locked
from supporthub.tickets.models import Ticket

GITHUB_PATH = re.compile(r"^/([\w.-]+)/([\w.-]+)/(issues|pull)/(\d+)/?$")
JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]+-\d+$")


@dataclass(frozen=True)
class IssueAddress:
    connection: TrackerConnection
    tracker_id: str
    key: str
    url: str
    pull: int | None = None  # a GitHub pull request's URL was pasted


def _connection_for(url: str, kind: Tracker) -> TrackerConnection | None:
    wanted = url.rstrip("/").lower()
    for connection in TrackerConnection.objects.filter(kind=kind, active=True):
        root = connection.web_url.rstrip("/").lower()
        if wanted == root or wanted.startswith(root + "/"):
            return connection
    return None


def address_of(url: str) -> IssueAddress:
    """Where a pasted URL points: a GitHub issue or pull request of a connected repository,
    or a Jira issue of a connected site; ValidationError on "url" saying why not."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError({"url": "Paste the issue's full address, starting with https://."})
    github = GITHUB_PATH.match(parts.path)
    if github and parts.netloc.lower() == "github.com":
        owner, repo, what, number = github.groups()
        connection = _connection_for(f"https://github.com/{owner}/{repo}", Tracker.GITHUB)
        if connection is None:
            raise ValidationError(
                {
                    "url": f"{owner}/{repo} is not a connected GitHub repository (back office: "
                    "Development tickets > Tracker connections)."
                }
            )
        repository = connection.repository
        return IssueAddress(
            connection=connection,
            tracker_id=github_issue_id(repository, number),
            key=f"{repository}#{number}",
            url=f"https://github.com/{repository}/{what}/{number}",
            pull=int(number) if what == "pull" else None,
        )
    generic = _connection_for(url, Tracker.GENERIC)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if generic is not None and last:
        # A generic tracker's issue: its id is the last part of its address.
        return IssueAddress(connection=generic, tracker_id=last, key=last, url=url)
    key = last if JIRA_KEY.match(last) else (parse_qs(parts.query).get("selectedIssue") or [""])[0]
    if JIRA_KEY.match(key):
        connection = _connection_for(f"{parts.scheme}://{parts.netloc}", Tracker.JIRA)
        if connection is None:
            raise ValidationError({"url": f"{parts.netloc} is not a connected Jira site."})
        return IssueAddress(
            connection=connection,
            tracker_id=f"key:{key}",
            key=key,
            url=f"{connection.web_url.rstrip('/')}/browse/{key}",
        )
    raise ValidationError(
        {
            "url": "Not a GitHub issue or pull request (github.com/OWNER/REPO/issues/N) or a "
            "Jira issue (SITE/browse/KEY-1) address."
        }
    )


def _issue_for(address: IssueAddress) -> EngineeringIssue:
    issues = EngineeringIssue.objects.select_for_update()
    issue = issues.filter(connection=address.connection, tracker_id=address.tracker_id).first()
    if issue is None and address.connection.kind == Tracker.JIRA:
        issue = issues.filter(connection=address.connection, key=address.key).first()
    if issue is None:
        issue = EngineeringIssue.objects.create(
            connection=address.connection,
            tracker_id=address.tracker_id,
            key=address.key,
            url=address.url,
        )
    if address.pull is not None:
        # A pull request's own number: it fixes the item it was linked as.
        pull, _ = PullRequest.objects.get_or_create(
            connection=address.connection,
            number=address.pull,
            defaults={"url": address.url, "state": "open"},
        )
        pull.fixes.add(issue)
    return issue


def ticket_link_issue(*, ticket: Ticket, url: str, viewer: Viewer) -> TicketLink:
    """Link the ticket to the issue at `url`; the "logged" note goes to the customer."""
    require_staff(viewer, "link tickets to development")
    address = address_of(url)
    with transaction.atomic():
        locked = ticket_locked(ticket, None)
        if not locked.is_open:
            raise ValidationError({"url": f"{locked.reference} is no longer open."})
        issue = _issue_for(address)
        try:
            with transaction.atomic():
                link = TicketLink.objects.create(
                    ticket=locked, issue=issue, linked_by=viewer.user, stage=Stage.LOGGED
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"url": f"{locked.reference} is already linked to {issue.key}."}
            ) from exc
        audit(
            ticket=locked,
            code="development.linked",
            actor=viewer.user,
            issue=issue.key,
            url=issue.url,
        )
        link.ticket = locked
        progress.link_move(link=link, stage=Stage.LOGGED, source="link")
        # Only this link: another ticket's link of the issue is not locked from here.
        progress.link_catch_up(link, source="link")
        return link


def ticket_unlink_issue(*, link: TicketLink, reason: str, viewer: Viewer) -> TicketLink:
    """End a link (it stays in the history with the reason); no note goes to the customer."""
    require_staff(viewer, "unlink development tickets")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the ticket is no longer linked."})
    with transaction.atomic():
        locked = TicketLink.objects.select_for_update().select_related("issue").get(pk=link.pk)
        if locked.unlinked_at is not None:
            raise ValidationError({"reason": "This link was already removed."})
        locked.unlinked_at = timezone.now()
        locked.unlinked_by = viewer.user
        locked.unlink_reason = reason.strip()
        locked.save(update_fields=["unlinked_at", "unlinked_by", "unlink_reason"])
        audit(
            ticket=locked.ticket,
            code="development.unlinked",
            actor=viewer.user,
            issue=locked.issue.key,
            reason=locked.unlink_reason,
        )
        return locked
