"""`{% rhythm_summary engagement as rhythm %}`: what the engagement page's rhythm section
shows (the last check-in, the next agreed date, the profile's version, the last report)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import template
from django.utils import timezone

from supporthub.customers.selectors import local_date
from supporthub.dse.models import CheckIn, Engagement, EnvironmentProfileVersion, MonthlyReport
from supporthub.dse.profile import current_version
from supporthub.dse.rhythm import check_ins_of, next_check_in

register = template.Library()


@dataclass(frozen=True)
class RhythmSummary:
    last_check_in: CheckIn | None
    next_date: date | None
    next_overdue: bool  # the agreed date has passed with no check-in of its kind since
    profile: EnvironmentProfileVersion | None
    last_report: MonthlyReport | None


@register.simple_tag
def rhythm_summary(engagement: Engagement) -> RhythmSummary:
    upcoming = next_check_in(engagement=engagement)
    next_date = upcoming.next_date if upcoming is not None else None
    today = local_date(engagement.organisation, timezone.now())
    return RhythmSummary(
        last_check_in=check_ins_of(engagement=engagement).first(),
        next_date=next_date,
        next_overdue=next_date is not None and next_date < today,
        profile=current_version(organisation=engagement.organisation),
        last_report=engagement.monthly_reports.order_by("-month").first(),
    )
