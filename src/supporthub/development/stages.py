"""Development stages the customer understands, and how a tracker's state maps onto them.

Pure: no Django, no ORM. A link's stage is derived from everything known about its issue
(its state, labels, fixing pull requests, whether the fix reached production), never from
the last event alone, so deliveries that arrive out of order or twice give the same stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Stage(StrEnum):
    LOGGED = "logged"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    FIXED = "fixed"  # fixed, awaiting release
    RELEASED = "released"  # released to production
    WONT_FIX = "wont_fix"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def rank(self) -> int:
        return ORDER.index(self)


ORDER = (
    Stage.LOGGED,
    Stage.ACCEPTED,
    Stage.IN_PROGRESS,
    Stage.IN_REVIEW,
    Stage.FIXED,
    Stage.RELEASED,
    Stage.WONT_FIX,
)
LABELS = {
    Stage.LOGGED: "Logged with development",
    Stage.ACCEPTED: "Accepted by development",
    Stage.IN_PROGRESS: "In progress",
    Stage.IN_REVIEW: "In review",
    Stage.FIXED: "Fixed, awaiting release",
    Stage.RELEASED: "Released to production",
    Stage.WONT_FIX: "Won't fix",
}
CHOICES = [(stage.value, stage.label) for stage in ORDER]

# GitHub has no workflow states beyond open/closed: labels say where an issue is.
DEFAULT_GITHUB_LABELS: Mapping[str, Stage] = {
    "accepted": Stage.ACCEPTED,
    "triaged": Stage.ACCEPTED,
    "confirmed": Stage.ACCEPTED,
    "in progress": Stage.IN_PROGRESS,
    "in-progress": Stage.IN_PROGRESS,
    "wontfix": Stage.WONT_FIX,
    "won't fix": Stage.WONT_FIX,
}
# Jira's default workflows' status names (compared case-insensitively); any other status
# falls back on its status category (new, indeterminate, done).
DEFAULT_JIRA_STATUSES: Mapping[str, Stage] = {
    "open": Stage.LOGGED,
    "backlog": Stage.LOGGED,
    "to do": Stage.LOGGED,
    "selected for development": Stage.ACCEPTED,
    "accepted": Stage.ACCEPTED,
    "in progress": Stage.IN_PROGRESS,
    "in review": Stage.IN_REVIEW,
    "code review": Stage.IN_REVIEW,
    "done": Stage.FIXED,
    "resolved": Stage.FIXED,
    "closed": Stage.FIXED,
}
JIRA_CATEGORIES: Mapping[str, Stage] = {
    "new": Stage.LOGGED,
    "indeterminate": Stage.IN_PROGRESS,
    "done": Stage.FIXED,
}
JIRA_WONT_FIX_RESOLUTIONS = frozenset({"won't fix", "won't do", "declined", "cannot reproduce"})

DEFAULT_NOTES: Mapping[Stage, str] = {
    Stage.LOGGED: "This issue is logged with development as {key}. We will add a note here "
    "as it moves through development.",
    Stage.ACCEPTED: "Development has accepted {key} and will schedule the fix.",
    Stage.IN_PROGRESS: "Development is working on {key}.",
    Stage.IN_REVIEW: "A fix for {key} is written and in review.",
    Stage.FIXED: "The fix for {key} is done and waits for the next release.",
    Stage.RELEASED: "The fix for {key} is released to production. We are marking this "
    "ticket solved; reply if you still see the problem.",
    Stage.WONT_FIX: "Development has decided not to change {key}. Your account manager will "
    "follow up with you about the options.",
}
NOTE_FIELDS = ("key", "stage", "url", "title")


def render_note(template: str, *, key: str, stage: Stage, url: str, title: str) -> str:
    """A note's text from its template; only {key}, {stage}, {url} and {title} are known."""
    return template.format_map(
        {"key": key, "stage": stage.label, "url": url, "title": title}
    ).strip()


def template_problem(template: str) -> str:
    """Why `template` cannot be a note template ("" when it can)."""
    if not template.strip():
        return "a note template must not be empty"
    try:
        render_note(template, key="K-1", stage=Stage.LOGGED, url="https://x", title="t")
    except KeyError as exc:
        return f"unknown field {{{exc.args[0]}}} (known: {', '.join(NOTE_FIELDS)})"
    except (ValueError, IndexError) as exc:
        return f"not a valid template: {exc}"
    return ""


@dataclass(frozen=True)
class StageMapping:
    """A policy's mapping (with the defaults filled in)."""

    github_labels: Mapping[str, Stage] = field(default_factory=lambda: dict(DEFAULT_GITHUB_LABELS))
    jira_statuses: Mapping[str, Stage] = field(default_factory=lambda: dict(DEFAULT_JIRA_STATUSES))


@dataclass(frozen=True)
class IssueFacts:
    """What is known of one engineering issue, gathered from deliveries and API reads."""

    tracker: str  # "github", "jira" or "generic"
    state: str = ""  # GitHub open/closed; Jira the status name; generic the stage itself
    state_reason: str = ""  # GitHub: completed / not_planned; Jira: the resolution name
    category: str = ""  # Jira's status category key
    labels: tuple[str, ...] = ()
    open_pulls: int = 0
    merged_pulls: int = 0
    in_production: bool = False


def stage_of(facts: IssueFacts, mapping: StageMapping) -> Stage:
    """The stage a customer is told for an issue in this state."""
    if facts.in_production:
        return Stage.RELEASED
    candidates: list[Stage] = [Stage.LOGGED]
    if facts.tracker == "github":
        if facts.state == "closed" and facts.state_reason == "not_planned":
            return Stage.WONT_FIX
        labelled = [mapping.github_labels.get(name.lower()) for name in facts.labels]
        if Stage.WONT_FIX in labelled:
            return Stage.WONT_FIX
        candidates += [stage for stage in labelled if stage is not None]
        if facts.state == "closed":
            candidates.append(Stage.FIXED)
    elif facts.tracker == "jira":
        if facts.state_reason.lower() in JIRA_WONT_FIX_RESOLUTIONS:
            return Stage.WONT_FIX
        mapped = mapping.jira_statuses.get(facts.state.lower())
        if mapped is None:
            mapped = JIRA_CATEGORIES.get(facts.category)
        if mapped is Stage.WONT_FIX:
            return Stage.WONT_FIX
        if mapped is not None:
            candidates.append(mapped)
    else:
        try:
            candidates.append(Stage(facts.state))
        except ValueError:
            pass
        if Stage.WONT_FIX in candidates:
            return Stage.WONT_FIX
        if Stage.RELEASED in candidates:
            return Stage.RELEASED
    if facts.open_pulls:
        candidates.append(Stage.IN_REVIEW)
    if facts.merged_pulls:
        candidates.append(Stage.FIXED)
    return max(candidates, key=lambda stage: stage.rank)


def parse_stage(value: str) -> Stage | None:
    try:
        return Stage(value)
    except ValueError:
        return None


def known_stages() -> Iterable[str]:
    return (stage.value for stage in ORDER)
