"""Calendar data beyond the national holidays: closures that close Business Days."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from supporthub.validators import validate_holiday_country


class Closure(models.Model):
    """A day support is closed: for every calendar of a holiday country, or one organisation."""

    date = models.DateField()
    name = models.CharField(max_length=200)
    holiday_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_holiday_country],
        help_text="Closes this date for every calendar using this holiday country",
    )
    organisation = models.ForeignKey(
        "customers.Organisation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        help_text="Or: closes this date for one organisation only",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(holiday_country="") & Q(organisation__isnull=False))
                | (~Q(holiday_country="") & Q(organisation__isnull=True)),
                name="closure_has_exactly_one_scope",
                violation_error_message="A closure applies to a holiday country or to one "
                "organisation, not both and not neither.",
            ),
        ]
        indexes = [models.Index(fields=["holiday_country", "date"])]

    def __str__(self) -> str:
        scope = self.holiday_country or str(self.organisation)
        return f"{self.date}: {self.name} ({scope})"


class CalendarStamp(models.Model):
    """One row whose token changes with every write to the closures table, committed with it.

    Written by database triggers (migration 0002), so no write can forget it: the admin, a
    queryset update, an iCalendar import, raw SQL. Ticket creation reads the token with the
    entitlement (no query of its own) and keeps closures per process while it is unchanged.
    A random token, not a counter: a rolled-back change can never reuse a value later.
    On SQLite a migration that rebuilds sla_closure (most field changes) drops its triggers:
    such a migration must create them again (test_calendar_stamp checks they exist).
    """

    token = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.token
