"""Reading trackers' webhook bodies (and REST answers, which have the same shapes) into
facts: the state of an issue, a pull request, something that reached production.

Pure: no ORM. GitHub's `issues`, `pull_request`, `release` and `deployment_status` events;
Jira's `jira:issue_created`/`jira:issue_updated` and `jira:version_released`; the generic
format (README, "Development tickets"). Anything else is an unknown event: kept, ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from supporthub.development.stages import parse_stage

# GitHub's closing keywords: "Fixes #12", "closes owner/repo#12", "Resolved: #3".
CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+([\w.-]+/[\w.-]+)?#(\d+)\b",
    re.IGNORECASE,
)


class PayloadError(ValueError):
    """The body is not what its event says; the message names the field."""


@dataclass(frozen=True)
class IssueSeen:
    tracker_id: str
    key: str
    url: str = ""
    title: str = ""
    state: str = ""
    state_reason: str = ""
    category: str = ""
    labels: tuple[str, ...] | None = None
    fix_versions: tuple[str, ...] | None = None
    released_versions: tuple[str, ...] = ()  # Jira: fixVersions already released
    at: datetime | None = None


@dataclass(frozen=True)
class PullSeen:
    number: int
    url: str
    title: str
    state: str
    base_branch: str
    merged_at: datetime | None
    merge_commit_sha: str
    fixes: tuple[str, ...]  # tracker ids (OWNER/REPO#N) named by closing keywords
    at: datetime | None


@dataclass(frozen=True)
class ProductionSeen:
    kind: str  # deployment, release, version (ProductionEvent.Kind)
    ref: str
    name: str
    at: datetime
    issues: tuple[str, ...] = ()  # generic "released": the tracker ids it names


@dataclass
class Parsed:
    issues: list[IssueSeen] = field(default_factory=list)
    pulls: list[PullSeen] = field(default_factory=list)
    production: list[ProductionSeen] = field(default_factory=list)
    ignored: str = ""  # why nothing in it matters (an unknown event, another environment)


def _dict(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}{name}: expected an object")
    return value


def _str(data: Mapping[str, Any], name: str, where: str = "", *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or (required and not value):
        raise PayloadError(f"{where}{name}: expected a string")
    return value


def when(value: object) -> datetime | None:
    """An ISO 8601 time (GitHub's ...Z, Jira's ...+0000) or Unix milliseconds, in UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- GitHub ----------------------------------------------------------------------------------


def github_issue_id(repository: str, number: int | str) -> str:
    return f"{repository.lower()}#{number}"


def github_issue(issue: Mapping[str, Any], repository: str) -> IssueSeen:
    number = _str(issue, "number", "issue.")
    labels = issue.get("labels") or []
    return IssueSeen(
        tracker_id=github_issue_id(repository, number),
        key=f"{repository}#{number}",
        url=_str(issue, "html_url", "issue.", required=False),
        title=_str(issue, "title", "issue.", required=False),
        state=_str(issue, "state", "issue."),
        state_reason=_str(issue, "state_reason", "issue.", required=False),
        labels=tuple(str(label.get("name", "")) for label in labels if isinstance(label, Mapping)),
        at=when(issue.get("updated_at")),
    )


def github_pull(pull: Mapping[str, Any], repository: str) -> PullSeen:
    number = int(_str(pull, "number", "pull_request."))
    body = f"{pull.get('title') or ''}\n{pull.get('body') or ''}"
    fixes = []
    for repo, issue_number in CLOSING.findall(body):
        if not repo or repo.lower() == repository.lower():
            fixes.append(github_issue_id(repository, issue_number))
    base = pull.get("base")
    merged = bool(pull.get("merged") or pull.get("merged_at"))
    return PullSeen(
        number=number,
        url=_str(pull, "html_url", "pull_request.", required=False),
        title=_str(pull, "title", "pull_request.", required=False),
        state=_str(pull, "state", "pull_request."),
        base_branch=str(base.get("ref", "")) if isinstance(base, Mapping) else "",
        merged_at=when(pull.get("merged_at")) if merged else None,
        merge_commit_sha=_str(pull, "merge_commit_sha", "pull_request.", required=False)
        if merged
        else "",
        fixes=tuple(dict.fromkeys(fixes)),
        at=when(pull.get("updated_at")),
    )


def parse_github(
    event: str, data: Mapping[str, Any], *, production_environment: str, release_is_production: bool
) -> Parsed:
    if event == "ping":
        return Parsed(ignored="ping: GitHub checking the webhook")
    if event not in ("issues", "pull_request", "release", "deployment_status"):
        return Parsed(ignored=f"event {event!r} is not one the product follows")
    repository = _str(_dict(data, "repository", ""), "full_name", "repository.")
    if event == "issues":
        return Parsed(issues=[github_issue(_dict(data, "issue", ""), repository)])
    if event == "pull_request":
        return Parsed(pulls=[github_pull(_dict(data, "pull_request", ""), repository)])
    if event == "release":
        release = _dict(data, "release", "")
        action = _str(data, "action")
        if action not in ("published", "released"):
            return Parsed(ignored=f"release {action}: only a published release counts")
        if not release_is_production:
            return Parsed(ignored="release: this connection's production is its deployments")
        return Parsed(
            production=[
                ProductionSeen(
                    kind="release",
                    ref=_str(release, "tag_name", "release."),
                    name=_str(release, "name", "release.", required=False),
                    at=when(release.get("published_at")) or datetime.now(tz=UTC),
                )
            ]
        )
    status = _dict(data, "deployment_status", "")
    deployment = _dict(data, "deployment", "")
    state = _str(status, "state", "deployment_status.")
    environment = _str(status, "environment", "deployment_status.", required=False) or _str(
        deployment, "environment", "deployment."
    )
    if state != "success":
        return Parsed(ignored=f"deployment_status {state}: only success counts")
    if environment != production_environment:
        return Parsed(ignored=f"deployment to {environment!r}, not {production_environment!r}")
    return Parsed(
        production=[
            ProductionSeen(
                kind="deployment",
                ref=_str(deployment, "sha", "deployment."),
                name=f"{environment} #{deployment.get('id', '')}",
                at=when(status.get("created_at")) or datetime.now(tz=UTC),
            )
        ]
    )


# -- Jira ------------------------------------------------------------------------------------


def jira_issue(issue: Mapping[str, Any], site: str) -> IssueSeen:
    fields = _dict(issue, "fields", "issue.")
    status = fields.get("status") if isinstance(fields.get("status"), Mapping) else {}
    category = status.get("statusCategory") if isinstance(status, Mapping) else None
    resolution = fields.get("resolution")
    versions = [v for v in fields.get("fixVersions") or [] if isinstance(v, Mapping)]
    key = _str(issue, "key", "issue.")
    return IssueSeen(
        tracker_id=_str(issue, "id", "issue."),
        key=key,
        url=f"{site.rstrip('/')}/browse/{key}",
        title=str(fields.get("summary") or ""),
        state=str(status.get("name", "")) if isinstance(status, Mapping) else "",
        state_reason=str(resolution.get("name", "")) if isinstance(resolution, Mapping) else "",
        category=str(category.get("key", "")) if isinstance(category, Mapping) else "",
        fix_versions=tuple(str(v.get("id", "")) for v in versions),
        released_versions=tuple(str(v.get("id", "")) for v in versions if v.get("released")),
        at=when(fields.get("updated")),
    )


def parse_jira(data: Mapping[str, Any], *, site: str) -> Parsed:
    event = str(data.get("webhookEvent", ""))
    if event in ("jira:issue_created", "jira:issue_updated"):
        seen = jira_issue(_dict(data, "issue", ""), site)
        at = when(data.get("timestamp")) or seen.at
        return Parsed(issues=[replace(seen, at=at)])
    if event == "jira:version_released":
        version = _dict(data, "version", "")
        return Parsed(
            production=[
                ProductionSeen(
                    kind="version",
                    ref=_str(version, "id", "version."),
                    name=_str(version, "name", "version.", required=False),
                    at=when(data.get("timestamp")) or datetime.now(tz=UTC),
                )
            ]
        )
    return Parsed(ignored=f"event {event or '(none)'!r} is not one the product follows")


# -- generic ---------------------------------------------------------------------------------


def parse_generic(data: Mapping[str, Any]) -> Parsed:
    """{"event": "issue.updated", "issue": {"id", "key", "url", "title", "stage"}, "at"} or
    {"event": "released", "issues": [ids], "release": "name", "at"}."""
    event = _str(data, "event")
    at = when(data.get("at"))
    if data.get("at") is not None and at is None:
        raise PayloadError("at: expected an ISO 8601 time")
    if event == "issue.updated":
        issue = _dict(data, "issue", "")
        stage = _str(issue, "stage", "issue.")
        if parse_stage(stage) is None:
            raise PayloadError(f"issue.stage: {stage!r} is not a stage")
        return Parsed(
            issues=[
                IssueSeen(
                    tracker_id=_str(issue, "id", "issue."),
                    key=_str(issue, "key", "issue.", required=False) or _str(issue, "id", "issue."),
                    url=_str(issue, "url", "issue.", required=False),
                    title=_str(issue, "title", "issue.", required=False),
                    state=stage,
                    at=at,
                )
            ]
        )
    if event == "released":
        ids = data.get("issues")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise PayloadError("issues: expected a list of issue ids")
        name = _str(data, "release", required=False)
        return Parsed(
            production=[
                ProductionSeen(
                    kind="release",
                    ref=name or ",".join(ids),
                    name=name,
                    at=at or datetime.now(tz=UTC),
                    issues=tuple(ids),
                )
            ]
        )
    return Parsed(ignored=f"event {event!r} is not one the product follows")
