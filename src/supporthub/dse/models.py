"""The Designated Support Engineer package (seed 003): a named engineer's engagement with an
organisation, the engineer's Available Hours, the time logged against the Monthly Limit, and
the engagement's rhythm (check-ins, the environment profile, the monthly case report).

The models, and how they fit:

- **Engagement**: one engineer (``engineer``, a StaffMember) for one organisation's covered
  ``subscriptions``, sold under ``sku``, from ``start`` to ``end`` (both dates inclusive, in
  the organisation's zone), buying ``monthly_limit_hours`` (the Monthly Limit; the policy's
  ``[dse] monthly_hours``, 25, unless more were bought). It never renews: a renewal is a new
  Engagement whose ``renewal_of`` is the one it follows (at most one each), recorded with who
  and when (``created_by``, ``created_at``) and the agreement (``agreement``). It is *active*
  on a date when ``start <= date <= end``; it *serves* on that date when one of its covered
  subscriptions is also in force then ("DSE services can only be fulfilled whilst a supported
  subscription is active"). The engineer may be substituted at any time: ``engineer`` is always
  the current one, and each change is a **Substitution** (from, to, why, who, when, how many
  open cases moved).
- The engineer's calendar lives on the staff side: ``StaffMember.time_zone``,
  ``holiday_country`` and ``holiday_subdivision`` (the ``holidays`` package's place).
- **Absence**: whole local dates ``start``..``end`` (inclusive) in the engineer's zone: time
  off or an Administrative Day of one engineer, or a company holiday of everyone whose holiday
  place is ``holiday_country`` (and ``holiday_subdivision`` when set; blank means the whole
  country). Available Hours (``dse.availability``) are the policy's ``[dse.available_hours]``
  windows on the engineer's Business Days minus every absence date.
- **TimeEntry**: ``minutes`` of work on ``date`` (the organisation's local date) on a case
  (``ticket``) of the engagement, by ``engineer`` (any staff member may log; the entry records
  ``counts_toward_limit`` = the engineer was the engagement's DSE when it was logged).
  ``over_limit`` is set when the entry took the month past the Monthly Limit, or was logged
  when it was already past: recorded and flagged, never refused.
- **Usage per month**: the month is the calendar month of ``TimeEntry.date`` (so the
  organisation's zone). Hours used in a month = sum of ``minutes`` of the engagement's entries
  with ``counts_toward_limit`` and ``date`` in that month, divided by 60. Read it through
  ``dse.selectors.month_usage`` (total and the per-case breakdown); unused hours do not carry
  over.
- **UsageWarning**: the 80% / 100% warning of one engagement's month, at most one row per
  (engagement, month, threshold): the unique constraint is what makes "exactly once" hold when
  two entries cross the threshold at the same time. ``month`` is the month's first day.
- **Coverage**: a case the DSE holds that another engineer (normal routing's region) covers
  for a while: outside the DSE's Available Hours or past the Monthly Limit.
- **CheckIn**: a monthly or milestone (``milestone``: "go-live", "upgrade") check-in held on
  ``date`` with ``attendees`` and ``notes``, and the ``next_date`` agreed;
  ``reminder_sent_at`` is set once the DSE has been reminded that ``next_date`` is due, and
  ``answered_by`` once a later check-in of the same kind was held (no reminder then).
- **EnvironmentProfile** (one per organisation) and its **EnvironmentProfileVersion** rows:
  each edit writes a new version (``number`` 1, 2, ...) with the whole profile (deployments,
  versions, architecture, use cases), who changed it and when, and a short ``summary``;
  the newest version is the profile. Customers' contacts may read it.
- **MonthlyReport**: the monthly case report of one engagement's month (``month`` its first
  day), one per (engagement, month): ``generated_at``, ``sent_at`` (mailed once), and the
  figures as generated (``figures``, JSON).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from supporthub.validators import clean_holiday_place

MINUTES_PER_HOUR = 60
WARNING_THRESHOLDS = (80, 100)  # percent of the Monthly Limit, each warned once a month


class Engagement(models.Model):
    """A Designated Support Engineer for an organisation's covered subscriptions."""

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="dse_engagements"
    )
    engineer = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.PROTECT,
        related_name="dse_engagements",
        help_text="The Designated Support Engineer (the current one, after any substitution)",
    )
    subscriptions = models.ManyToManyField(
        "customers.Subscription",
        related_name="dse_engagements",
        help_text="The DSE Support Subscriptions: the subscriptions this engagement covers",
    )
    sku = models.CharField(max_length=200, verbose_name="SKU")
    start = models.DateField()
    end = models.DateField(help_text="The last day of the engagement (inclusive)")
    monthly_limit_hours = models.DecimalField(
        max_digits=6, decimal_places=2, help_text="The Monthly Limit: hours purchased per month"
    )
    renewal_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewal",
        help_text="The engagement this one renews, by mutual agreement (never automatic)",
    )
    agreement = models.TextField(
        blank=True, help_text="The order or agreement this engagement (or renewal) rests on"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["organisation__name", "-start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=F("start")),
                name="dse_engagement_ends_after_start",
                violation_error_message="The engagement must end on or after its start.",
            ),
            models.CheckConstraint(
                condition=Q(monthly_limit_hours__gt=0),
                name="dse_engagement_monthly_limit_positive",
                violation_error_message="The Monthly Limit must be more than 0 hours.",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "start", "end"]),
            models.Index(fields=["engineer", "end"]),
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.engineer} ({self.start} to {self.end})"


class Substitution(models.Model):
    """A change of an engagement's engineer: who for whom, why, by whom, when."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="substitutions"
    )
    from_engineer = models.ForeignKey(
        "staff.StaffMember", on_delete=models.PROTECT, related_name="+"
    )
    to_engineer = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    cases_moved = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["engagement", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.engagement_id}: {self.from_engineer} → {self.to_engineer} at {self.at}"


class AbsenceKind(models.TextChoices):
    TIME_OFF = "time_off", "Time off"
    COMPANY_HOLIDAY = "company_holiday", "Company holiday"
    ADMINISTRATIVE_DAY = "administrative_day", "Administrative Day"


class Absence(models.Model):
    """Whole local dates an engineer is not available (or, for a company holiday, everyone
    whose holiday place is this country, or this subdivision of it)."""

    kind = models.CharField(max_length=20, choices=AbsenceKind.choices)
    engineer = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="absences",
        help_text="Time off and Administrative Days: whose. Company holidays: empty",
    )
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="Company holidays: the country of the place"
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="Company holidays: optional subdivision"
    )
    start = models.DateField()
    end = models.DateField(help_text="The last day off (inclusive)")
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=F("start")),
                name="dse_absence_ends_after_start",
                violation_error_message="An absence must end on or after its start.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="company_holiday", engineer__isnull=True) & ~Q(holiday_country="")
                )
                | (
                    ~Q(kind="company_holiday")
                    & Q(engineer__isnull=False, holiday_country="", holiday_subdivision="")
                ),
                name="dse_absence_whose",
                violation_error_message="A company holiday names a place and no engineer; "
                "time off and Administrative Days name an engineer and no place.",
            ),
        ]
        indexes = [
            models.Index(fields=["engineer", "end"]),
            models.Index(fields=["holiday_country", "end"]),
        ]

    def __str__(self) -> str:
        who = self.engineer or f"{self.holiday_country}{self.holiday_subdivision}"
        return f"{self.get_kind_display()}: {who}, {self.start} to {self.end}"

    def clean(self) -> None:
        if self.kind == AbsenceKind.COMPANY_HOLIDAY:
            if self.engineer_id is not None:
                raise ValidationError(
                    {
                        "engineer": "A company holiday is for a place, not one "
                        "engineer: leave the engineer empty."
                    }
                )
            if not self.holiday_country:
                raise ValidationError({"holiday_country": "A company holiday needs a country."})
            clean_holiday_place(self.holiday_country, self.holiday_subdivision)
        else:
            if self.engineer_id is None:
                raise ValidationError({"engineer": f"{self.get_kind_display()} needs an engineer."})
            if self.holiday_country or self.holiday_subdivision:
                raise ValidationError({"holiday_country": "Only a company holiday names a place."})

    def dates_count(self) -> int:
        return (self.end - self.start).days + 1


class TimeEntry(models.Model):
    """Minutes of work on a case of an engagement, on a date; flagged when over the limit."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="time_entries"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.PROTECT, related_name="dse_time_entries"
    )
    engineer = models.ForeignKey(
        "staff.StaffMember", on_delete=models.PROTECT, related_name="dse_time_entries"
    )
    minutes = models.PositiveIntegerField()
    date = models.DateField(help_text="The day of the work, in the organisation's time zone")
    note = models.CharField(max_length=500, blank=True)
    # The engineer was the engagement's DSE when this was logged: it counts against the
    # Monthly Limit. Other engineers' entries are kept for the record.
    counts_toward_limit = models.BooleanField(default=True)
    over_limit = models.BooleanField(
        default=False, help_text="Logged past the Monthly Limit (recorded, never refused)"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["date", "pk"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gt=0),
                name="dse_time_entry_minutes_positive",
                violation_error_message="Log at least one minute.",
            )
        ]
        indexes = [models.Index(fields=["engagement", "date"])]

    def __str__(self) -> str:
        return f"{self.minutes} min on {self.ticket_id} by {self.engineer} ({self.date})"


class UsageWarning(models.Model):
    """A Monthly Limit warning (80% or 100%) of one engagement's month: sent once."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="usage_warnings"
    )
    month = models.DateField(help_text="The month's first day")
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the Monthly Limit")
    minutes_used = models.PositiveIntegerField()
    time_entry = models.ForeignKey(
        TimeEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["engagement", "month", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "month", "threshold"],
                name="dse_usage_warning_once_per_month",
            )
        ]

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.month:%Y-%m}: {self.threshold}%"


class CoverageReason(models.TextChoices):
    OUTSIDE_AVAILABLE_HOURS = "outside_available_hours", "Outside the DSE's Available Hours"
    MONTHLY_LIMIT_REACHED = "monthly_limit_reached", "Monthly Limit reached"


class Coverage(models.Model):
    """Another engineer covers a case the DSE holds, from `at` (until the DSE is next
    available, `until`; None when the Monthly Limit is what was reached)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="coverage")
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="dse_coverage"
    )
    reason = models.CharField(max_length=30, choices=CoverageReason.choices)
    region = models.CharField(max_length=40, blank=True, help_text="Normal routing's region")
    at = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self) -> str:
        return f"{self.ticket_id} covered ({self.reason}) from {self.at}"


class CheckInKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly check-in"
    MILESTONE = "milestone", "Milestone check-in"


class CheckIn(models.Model):
    """A check-in held with the customer: when, who, what, and when the next one is."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="check_ins")
    kind = models.CharField(max_length=20, choices=CheckInKind.choices)
    milestone = models.CharField(
        max_length=100, blank=True, help_text="Milestone check-ins: e.g. go-live, upgrade"
    )
    date = models.DateField()
    attendees = models.TextField()
    notes = models.TextField(blank=True)
    next_date = models.DateField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the DSE was reminded that the next date is due"
    )
    # A later check-in of the same kind (monthly, or milestone) answers this one's next date:
    # no reminder is due for it any more.
    answered_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="answers",
        help_text="The later check-in of the same kind held for this one's next date",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "-pk"]
        verbose_name = "check-in"
        indexes = [
            models.Index(fields=["engagement", "date"]),
            models.Index(
                fields=["next_date"],
                name="dse_checkin_reminder_due",
                condition=Q(
                    next_date__isnull=False,
                    reminder_sent_at__isnull=True,
                    answered_by__isnull=True,
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date} ({self.engagement_id})"


class EnvironmentProfile(models.Model):
    """The maintained environment profile of a customer; its versions hold the content."""

    organisation = models.OneToOneField(
        "customers.Organisation", on_delete=models.CASCADE, related_name="environment_profile"
    )
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Environment profile of {self.organisation}"


class EnvironmentProfileVersion(models.Model):
    """One edit of the environment profile: the whole profile as it then stood, who, when."""

    profile = models.ForeignKey(
        EnvironmentProfile, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    deployments = models.TextField(blank=True)
    versions = models.TextField(blank=True, help_text="Product versions in use")
    architecture = models.TextField(blank=True)
    use_cases = models.TextField(blank=True)
    summary = models.CharField(max_length=300, blank=True, help_text="What changed, in a line")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["profile", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "number"], name="dse_environment_profile_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile} v{self.number}"


class MonthlyReport(models.Model):
    """The monthly case report of one engagement's month, generated and mailed once."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="monthly_reports"
    )
    month = models.DateField(help_text="The month's first day")
    figures = models.JSONField(default=dict, blank=True)
    generated_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engagement", "-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "month"], name="dse_monthly_report_once_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.engagement} {self.month:%Y-%m}"
