"""Reconciliation: GitHub does not retry a delivery that failed, and any tracker's webhook
can be misconfigured for a while. Periodically, each open link's issue (and its fixing pull
requests) is read again through the tracker's REST API and applied exactly as a delivery
would be: a move that was missed is made, one already made is not made twice."""

from __future__ import annotations

import logging

from supporthub.development import payloads, progress, trackers
from supporthub.development.models import EngineeringIssue, StageMove, Tracker, TrackerConnection

logger = logging.getLogger(__name__)


def issue_read(issue: EngineeringIssue) -> payloads.Parsed | None:
    """What the tracker says of the issue now; None when it did not answer."""
    connection = issue.connection
    parsed = payloads.Parsed()
    try:
        if connection.kind == Tracker.GITHUB:
            number = int(issue.tracker_id.rsplit("#", 1)[1])
            data = trackers.github_issue(connection, number)
            if data is None:
                return None
            parsed.issues.append(payloads.github_issue(data, connection.repository))
            for pull in issue.pull_requests.all():
                read = trackers.github_pull(connection, pull.number)
                if read is not None:
                    parsed.pulls.append(payloads.github_pull(read, connection.repository))
        elif connection.kind == Tracker.JIRA:
            wanted = issue.tracker_id.removeprefix("key:")
            data = trackers.jira_issue(connection, wanted)
            if data is None:
                return None
            parsed.issues.append(payloads.jira_issue(data, connection.web_url))
        else:
            return None  # a generic tracker has no API to read
    except (payloads.PayloadError, ValueError, IndexError) as exc:
        logger.warning("%s: %s could not be read: %s", connection.slug, issue.key, exc)
        return None
    return parsed


def reconcile_links() -> int:
    """Read every issue with an open link that has not reached production; the number of
    stage moves this made."""
    before = StageMove.objects.count()
    issues = (
        EngineeringIssue.objects.filter(
            links__unlinked_at__isnull=True,
            in_production_at__isnull=True,
            connection__active=True,
        )
        .exclude(connection__kind=Tracker.GENERIC)
        .select_related("connection")
        .distinct()
        .order_by("pk")
    )
    for issue in issues:
        parsed = issue_read(issue)
        if parsed is not None:
            connection: TrackerConnection = issue.connection
            progress.facts_apply(connection=connection, parsed=parsed, source="reconcile")
    return StageMove.objects.count() - before
