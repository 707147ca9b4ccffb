"""Applying what a tracker says (a delivery, or a reconciliation's read) to issues and their
linked tickets: issue state, fixing pull requests, production; then each link's stage, with
one customer-visible note per move and the production note solving the ticket.

Idempotent: the stage is derived from everything stored, a move is recorded only when a
link's stage changes (under the link's row lock), so the same facts twice change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from supporthub.development import trackers
from supporthub.development.models import (
    EngineeringIssue,
    NoteTemplate,
    ProductionEvent,
    PullRequest,
    StageMove,
    TicketLink,
    Tracker,
    TrackerConnection,
)
from supporthub.development.payloads import IssueSeen, Parsed, PullSeen
from supporthub.development.stages import (
    DEFAULT_GITHUB_LABELS,
    DEFAULT_JIRA_STATUSES,
    DEFAULT_NOTES,
    IssueFacts,
    Stage,
    StageMapping,
    render_note,
    stage_of,
)
from supporthub.policies.schema import DevelopmentTickets
from supporthub.tickets.models import Status, Ticket
from supporthub.tickets.services import ticket_progress_note

# Without a [development] table, a linked ticket still hears of each move but stays open.
DEFAULT_TERMS = DevelopmentTickets(note_on_each_move=True, resolve_on_production=False)
RECENT_PRODUCTION = 20  # stored deployments/releases a late merge is checked against


def terms_of(ticket: Ticket) -> DevelopmentTickets:
    return ticket.policy_version.document().development or DEFAULT_TERMS


def mapping_of(terms: DevelopmentTickets) -> StageMapping:
    return StageMapping(
        github_labels={
            **DEFAULT_GITHUB_LABELS,
            **{k: Stage(v) for k, v in terms.github_labels.items()},
        },
        jira_statuses={
            **DEFAULT_JIRA_STATUSES,
            **{k: Stage(v) for k, v in terms.jira_statuses.items()},
        },
    )


def facts_of(issue: EngineeringIssue) -> IssueFacts:
    pulls = list(issue.pull_requests.values_list("state", "merged_at"))
    return IssueFacts(
        tracker=issue.connection.kind,
        state=issue.state,
        state_reason=issue.state_reason,
        category=issue.category,
        labels=tuple(issue.labels or ()),
        open_pulls=sum(1 for state, merged in pulls if state == "open" and merged is None),
        merged_pulls=sum(1 for _, merged in pulls if merged is not None),
        in_production=issue.in_production_at is not None,
    )


def note_text(stage: Stage, issue: EngineeringIssue, terms: DevelopmentTickets) -> str:
    """The back office's wording wins, then the policy's, then the built-in one."""
    template = NoteTemplate.objects.filter(stage=stage).values_list("text", flat=True).first()
    template = template or terms.notes.get(stage.value) or DEFAULT_NOTES[stage]
    return render_note(template, key=issue.key, stage=stage, url=issue.url, title=issue.title)


# -- moves ----------------------------------------------------------------------------------


def link_move(*, link: TicketLink, stage: Stage, source: str) -> StageMove | None:
    """Move one link (its row locked by the caller) to `stage`: the history row, the note on
    an open or solved ticket, and with resolve_on_production the production note solves it."""
    previous = link.stage if link.pk and link.moves.exists() else ""
    if previous == stage:
        return None
    ticket = link.ticket
    terms = terms_of(ticket)
    solve = stage == Stage.RELEASED and terms.resolve_on_production
    note = None
    if ticket.status != Status.CLOSED and (terms.note_on_each_move or solve):
        note = ticket_progress_note(
            ticket=ticket,
            body=note_text(stage, link.issue, terms),
            solve=solve,
            source=source,
        )
    link.stage = stage
    link.save(update_fields=["stage"])
    return StageMove.objects.create(
        link=link, previous=previous, stage=stage, at=timezone.now(), source=source, note=note
    )


def link_catch_up(link: TicketLink, *, source: str) -> StageMove | None:
    """A new link (its row and ticket locked by the caller): to the stage its issue is at."""
    stage = stage_of(facts_of(link.issue), mapping_of(terms_of(link.ticket)))
    return link_move(link=link, stage=stage, source=source)


def issue_refresh(issue: EngineeringIssue, *, source: str) -> list[str]:
    """Bring every open link of `issue` to the stage its facts give; what moved."""
    facts = facts_of(issue)
    said = []
    links = (
        TicketLink.objects.select_for_update(of=("self",))
        .filter(issue=issue, unlinked_at__isnull=True)
        .select_related("ticket__policy_version", "ticket__requester", "issue__connection")
        .order_by("pk")
    )
    for link in links:
        stage = stage_of(facts, mapping_of(terms_of(link.ticket)))
        if link_move(link=link, stage=stage, source=source) is not None:
            said.append(f"{link.ticket.reference}: {stage.label}")
    return said


# -- facts ----------------------------------------------------------------------------------


def _known_issue(connection: TrackerConnection, seen: IssueSeen) -> EngineeringIssue | None:
    issues = EngineeringIssue.objects.select_for_update()
    issue = issues.filter(connection=connection, tracker_id=seen.tracker_id).first()
    if issue is None and connection.kind == Tracker.JIRA:
        # Linked by pasting a URL: known by its key until Jira tells its stable id.
        issue = issues.filter(connection=connection, tracker_id=f"key:{seen.key}").first()
        if issue is not None:
            issue.tracker_id = seen.tracker_id
    return issue


def issue_record(
    connection: TrackerConnection, seen: IssueSeen, said: list[str]
) -> EngineeringIssue | None:
    """Store the issue's state unless what is stored is newer; None when nobody linked it."""
    issue = _known_issue(connection, seen)
    if issue is None:
        said.append(f"{seen.key}: no ticket is linked to it")
        return None
    if seen.at and issue.state_at and seen.at < issue.state_at:
        said.append(f"{seen.key}: older than the state stored; kept the newer")
        issue.save(update_fields=["tracker_id"])
        return issue
    if issue.key != seen.key:
        said.append(f"{issue.key} is now {seen.key}")
    issue.key, issue.url = seen.key, seen.url or issue.url
    issue.title = seen.title or issue.title
    issue.state, issue.state_reason, issue.category = seen.state, seen.state_reason, seen.category
    if seen.labels is not None:
        issue.labels = list(seen.labels)
    if seen.fix_versions is not None:
        issue.fix_versions = list(seen.fix_versions)
    issue.state_at = seen.at or issue.state_at
    if issue.in_production_at is None:
        released = ProductionEvent.objects.filter(
            connection=connection, kind=ProductionEvent.Kind.VERSION, ref__in=issue.fix_versions
        ).first()
        if seen.released_versions:
            issue.in_production_at = seen.at or timezone.now()
        elif released is not None:
            issue.in_production_at = released.at
    issue.save()
    return issue


def pull_record(connection: TrackerConnection, seen: PullSeen, said: list[str]) -> set[int]:
    """Store a pull request that fixes a linked issue; the ids of the issues it fixes."""
    fixes = list(EngineeringIssue.objects.filter(connection=connection, tracker_id__in=seen.fixes))
    pull = (
        PullRequest.objects.select_for_update()
        .filter(connection=connection, number=seen.number)
        .first()
    )
    if pull is None and not fixes:
        said.append(f"PR #{seen.number}: fixes no linked issue")
        return set()
    if pull is None:
        pull = PullRequest(connection=connection, number=seen.number)
    if not (seen.at and pull.updated_at and seen.at < pull.updated_at):
        pull.url, pull.title, pull.state = seen.url, seen.title, seen.state
        pull.base_branch = seen.base_branch
        pull.merged_at = seen.merged_at or pull.merged_at
        pull.merge_commit_sha = seen.merge_commit_sha or pull.merge_commit_sha
        pull.updated_at = seen.at or pull.updated_at
        pull.save()
    pull.fixes.add(*fixes)
    return set(pull.fixes.values_list("pk", flat=True))


def _open_issues(connection: TrackerConnection) -> Q:
    return Q(
        connection=connection,
        in_production_at__isnull=True,
        links__unlinked_at__isnull=True,
    )


def production_record(connection: TrackerConnection, parsed: Parsed) -> set[int]:
    """Store what reached production; the issues it puts there at once (Jira versions, the
    generic format's named issues). GitHub's need a containment check: `github_reached`."""
    reached: set[int] = set()
    for seen in parsed.production:
        event, _ = ProductionEvent.objects.get_or_create(
            connection=connection,
            kind=seen.kind,
            ref=seen.ref[:200],
            defaults={"name": seen.name[:200], "at": seen.at},
        )
        candidates = EngineeringIssue.objects.filter(_open_issues(connection)).distinct()
        if seen.issues:
            hit = candidates.filter(tracker_id__in=seen.issues)
        elif seen.kind == ProductionEvent.Kind.VERSION:
            hit = candidates.filter(pk__in=[i.pk for i in candidates if seen.ref in i.fix_versions])
        else:
            continue
        ids = set(hit.values_list("pk", flat=True))
        EngineeringIssue.objects.filter(pk__in=ids).update(in_production_at=event.at)
        reached |= ids
    return reached


def contains(connection: TrackerConnection, pull: PullRequest, event: ProductionEvent) -> bool:
    """Does what `event` deployed contain the pull request's merge commit? GitHub's compare
    API says when it answers; else the rule: production deploys the default branch in order,
    so a merge into it before the deployment is in it."""
    status = trackers.github_compare(connection, base=pull.merge_commit_sha, head=event.ref)
    if status is not None:
        return status in ("ahead", "identical")
    return (
        pull.base_branch == connection.default_branch
        and pull.merged_at is not None
        and pull.merged_at <= event.at
    )


def github_reached(
    connection: TrackerConnection, *, events: Iterable[ProductionEvent], issue_ids: set[int]
) -> dict[int, datetime]:
    """Outside any transaction (it may ask GitHub): the open issues whose fixing merge is in
    one of `events`, with the earliest such event's time."""
    open_issues = EngineeringIssue.objects.filter(_open_issues(connection))
    if issue_ids:
        open_issues = open_issues.filter(pk__in=issue_ids)
    pulls = (
        PullRequest.objects.filter(connection=connection, fixes__in=open_issues)
        .exclude(merge_commit_sha="")
        .distinct()
        .prefetch_related("fixes")
    )
    reached: dict[int, datetime] = {}
    ordered = sorted(events, key=lambda event: event.at)
    for pull in pulls:
        event = next((e for e in ordered if contains(connection, pull, e)), None)
        if event is None:
            continue
        for issue in pull.fixes.all():
            if issue.in_production_at is None:
                reached[issue.pk] = min(reached.get(issue.pk, event.at), event.at)
    return reached


def facts_apply(*, connection: TrackerConnection, parsed: Parsed, source: str) -> str:
    """Apply a delivery's (or a read's) facts; what it did, in words, for the back office."""
    said: list[str] = []
    touched: set[int] = set()
    with transaction.atomic():
        for seen in parsed.issues:
            issue = issue_record(connection, seen, said)
            if issue is not None:
                touched.add(issue.pk)
        for pull in parsed.pulls:
            touched |= pull_record(connection, pull, said)
        touched |= production_record(connection, parsed)
    if connection.kind == Tracker.GITHUB:
        kinds = [ProductionEvent.Kind.DEPLOYMENT, ProductionEvent.Kind.RELEASE]
        fresh = [p for p in parsed.production if p.kind in kinds]
        events = ProductionEvent.objects.filter(connection=connection, kind__in=kinds)
        if fresh:  # a deployment or release: every open issue's merges against it
            checked = list(events.filter(ref__in=[p.ref for p in fresh]))
            reached = github_reached(connection, events=checked, issue_ids=set())
        elif parsed.pulls and touched:  # a merge arriving after the deployment holding it
            checked = list(events.order_by("-at")[:RECENT_PRODUCTION])
            reached = github_reached(connection, events=checked, issue_ids=touched)
        else:
            reached = {}
        with transaction.atomic():
            for pk, at in reached.items():
                EngineeringIssue.objects.filter(pk=pk, in_production_at__isnull=True).update(
                    in_production_at=at
                )
        touched |= set(reached)
    with transaction.atomic():
        for issue in EngineeringIssue.objects.filter(pk__in=touched).select_related("connection"):
            said += issue_refresh(issue, source=source)
    return "; ".join(said) or "nothing to change"
