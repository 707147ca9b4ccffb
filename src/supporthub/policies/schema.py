"""The typed, validated form of a policy file; the loader builds it, everything else reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

TargetUnit = Literal["minutes", "hours", "business_hours", "business_days"]
TARGET_UNITS: tuple[TargetUnit, ...] = ("minutes", "hours", "business_hours", "business_days")
Channel = Literal["hub", "email", "phone", "voicemail", "api"]
CHANNELS: tuple[Channel, ...] = ("hub", "email", "phone", "voicemail", "api")
BillingTerm = Literal["monthly", "annual", "multi_year"]
Deployment = Literal["cloud", "self_managed"]
ZoneOf = Literal["customer", "engineer"]
# Staff roles a policy may route work to: the staff app's Role codes plus the on-call rotation.
STAFF_ROLES: tuple[str, ...] = (
    "on_call",
    "support_engineer",
    "cs_account_manager",
    "cs_lead",
    "project_manager",
    "sales_rep",
    "enhancement_committee",
)


@dataclass(frozen=True)
class Window:
    """A local wall-time window [start, end); "24:00" is allowed as an end."""

    start: str
    end: str


@dataclass(frozen=True)
class Hours:
    """Hours of operation: 24x7x365, or windows on the business weekdays."""

    always: bool
    windows: tuple[Window, ...] = ()
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # 0 = Monday
    # None: the zone of `zone_of` (the customer's order-form location, or the DSE's own zone);
    # else a fixed IANA zone.
    zone: str | None = None
    zone_of: ZoneOf = "customer"

    def describe(self) -> str:
        if self.always:
            return "24 x 7 x 365"
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        days = ", ".join(names[d] for d in self.weekdays)
        spans = ", ".join(f"{w.start}-{w.end}" for w in self.windows)
        where = f" {self.zone}" if self.zone else f" ({self.zone_of}'s time zone)"
        return f"{spans} on Business Days ({days}){where}"


@dataclass(frozen=True)
class Target:
    """A Target Initial Response: an amount and its unit."""

    amount: int
    unit: TargetUnit

    def describe(self) -> str:
        label = {
            "minutes": ("minute", "minutes"),
            "hours": ("hour", "hours"),
            "business_hours": ("business hour", "business hours"),
            "business_days": ("business day", "business days"),
        }[self.unit]
        return f"{self.amount} {label[0] if self.amount == 1 else label[1]}"


@dataclass(frozen=True)
class Severity:
    """One step of the severity (or priority) scale; level 1 is the most urgent."""

    level: int
    name: str
    description: str


@dataclass(frozen=True)
class SupportLevel:
    key: str
    name: str
    hours: Hours
    methods: tuple[str, ...]
    support_contacts: int | None  # None: the policy sets no cap
    annual_incidents: int | None  # None: unlimited
    # severity level -> target; None means the policy states no target ("no target").
    targets: dict[int, Target | None]


@dataclass(frozen=True)
class SubscriptionLevel:
    key: str
    name: str
    support_level: str


@dataclass(frozen=True)
class ChannelRule:
    """Which severities a channel may open, and a severity it forces (email: always 3)."""

    channel: Channel
    allowed_severities: tuple[int, ...]
    forced_severity: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Region:
    """A follow-the-sun support region with its own hours and holiday country."""

    key: str
    name: str
    hours: Hours  # zone is always set for a region
    holiday_country: str
    holiday_subdivision: str | None = None


@dataclass(frozen=True)
class AfterHoursRule:
    """Tickets of these severities opened while no region is on duty notify these roles."""

    severities: tuple[int, ...]
    notify: tuple[str, ...]  # "on_call", "cs_lead"


@dataclass(frozen=True)
class Exclusion:
    """A reason the policy gives for not providing support; a ticket may close with it."""

    key: str
    description: str
    name: str = ""  # a short label for pick lists; the description quotes the policy


@dataclass(frozen=True)
class EnhancementRoute:
    key: str
    name: str
    description: str
    route_to: tuple[str, ...]  # staff roles, e.g. "project_manager", "enhancement_committee"
    customer_sees_decision: bool = False
    engaged_by: str | None = None  # the role that brings route_to in (the account manager)
    occasionally: tuple[str, ...] = ()  # roles brought in only sometimes (a sales rep)
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingOption:
    """A way to get training: self-help material, or a request routed to staff."""

    key: str
    name: str
    description: str
    route_to: tuple[str, ...] = ()  # empty: self-service, no ticket routing


# The stages a customer is told (supporthub.development.stages.Stage has the same values).
DEVELOPMENT_STAGES = (
    "logged",
    "accepted",
    "in_progress",
    "in_review",
    "fixed",
    "released",
    "wont_fix",
)
DEVELOPMENT_NOTE_FIELDS = ("key", "stage", "url", "title")


@dataclass(frozen=True)
class DevelopmentTickets:
    """How a ticket that needs development follows its engineering-tracker ticket."""

    note_on_each_move: bool  # each move adds a customer-visible note
    resolve_on_production: bool  # reaching production resolves the helpdesk ticket
    # Added to (and winning over) the built-in mappings; keys in lower case, values stages.
    github_labels: dict[str, str] = field(default_factory=dict)
    jira_statuses: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # stage -> note template


@dataclass(frozen=True)
class DseAddon:
    """The Designated Support Engineer add-on's terms."""

    name: str
    skus: tuple[str, ...]
    subscription_levels: tuple[str, ...]
    billing_terms: tuple[BillingTerm, ...]
    min_term_months: int
    max_term_months: int
    monthly_hours: int
    administrative_days_per_year: int
    available_hours: Hours
    auto_renew: bool = False
    unused_hours_carry_over: bool = False
    # The package's "Out of scope" list, carried by every monthly case report.
    out_of_scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    key: str
    name: str
    effective_date: date
    holiday_country: str
    holiday_subdivision: str | None
    severities: tuple[Severity, ...]
    default_severity: int
    subscription_levels: dict[str, SubscriptionLevel]
    support_levels: dict[str, SupportLevel]
    channels: dict[str, ChannelRule] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    phone_hours: Hours | None = None
    phone_number: str = ""  # as the policy prints it, e.g. "1-888-585-5574"
    voicemail_creates_tickets: bool = False
    after_hours: tuple[AfterHoursRule, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    enhancement_routes: tuple[EnhancementRoute, ...] = ()
    dse: DseAddon | None = None
    training: tuple[TrainingOption, ...] = ()
    development: DevelopmentTickets | None = None
    source: str = ""  # the file name it was loaded from

    def severity(self, level: int) -> Severity:
        for sev in self.severities:
            if sev.level == level:
                return sev
        raise KeyError(f"policy {self.key!r} has no severity {level}")

    def support_level_for(self, subscription_level: str) -> SupportLevel:
        return self.support_levels[self.subscription_levels[subscription_level].support_level]

    def target(self, support_level: str, severity: int) -> Target | None:
        return self.support_levels[support_level].targets.get(severity)

    def summary(self) -> str:
        """One line: what the policy is, from when, and what it defines."""
        levels = ", ".join(level.name for level in self.support_levels.values())
        severities = ", ".join(sev.name for sev in self.severities)
        holidays = self.holiday_country + (
            f"-{self.holiday_subdivision}" if self.holiday_subdivision else ""
        )
        parts = [
            f"{_count(len(self.subscription_levels), 'subscription level')} on "
            f"{_count(len(self.support_levels), 'support level')} ({levels})",
            f"{_count(len(self.severities), 'severity', 'severities')} ({severities})",
        ]
        targets = [t for level in self.support_levels.values() for t in level.targets.values()]
        if not any(targets):
            parts.append("no response targets")
        if self.regions:
            regions = ", ".join(region.name for region in self.regions)
            parts.append(f"{_count(len(self.regions), 'region')} ({regions})")
        parts.append(f"holidays {holidays}")
        if self.dse is not None:
            parts.append(f"{self.dse.name} add-on")
        return (
            f"{self.name} ({self.key}), effective {self.effective_date.isoformat()}: "
            + "; ".join(parts)
        )


def _count(n: int, singular: str, plural: str = "") -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
