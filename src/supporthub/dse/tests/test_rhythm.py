"""Check-ins recorded by the DSE, and the reminder when the next date agreed comes: in the
DSE's own zone, exactly once, never for a date a later check-in already answered."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from supporthub.dse.models import CheckIn, Engagement
from supporthub.dse.rhythm import CheckInInput, check_in_record, check_in_reminders_send
from supporthub.dse.tests.helpers import engagement_of, login, utc
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.staff.models import StaffMember
from supporthub.testing import factories as f
from supporthub.testing.world import World, viewer_of
from supporthub.worker.registry import periodic_jobs

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.fixture
def tokyo_dse(world: World) -> StaffMember:
    return f.staff(user__username="kenji", time_zone="Asia/Tokyo", holiday_country="JP")


@pytest.fixture
def engagement(world: World, tokyo_dse: StaffMember) -> Engagement:
    return engagement_of(world.other_organisation, tokyo_dse)


def held(
    day: date, next_date: date | None = None, kind: str = "monthly", milestone: str = ""
) -> CheckInInput:
    return CheckInInput(
        kind=kind,
        milestone=milestone,
        date=day,
        attendees="Olga (Globex)\nKenji",
        notes="Went through the open cases.",
        next_date=next_date,
    )


@pytest.mark.django_db
def test_the_dse_records_a_check_in_with_its_next_date(
    engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    check_in = check_in_record(
        engagement=engagement,
        data=held(date(2026, 3, 2), date(2026, 4, 6)),
        viewer=viewer_of(tokyo_dse),
        now=NOW,
    )
    stored = CheckIn.objects.get()
    assert stored == check_in and stored.recorded_by == tokyo_dse.user
    assert (stored.kind, stored.date, stored.next_date) == (
        "monthly",
        date(2026, 3, 2),
        date(2026, 4, 6),
    )
    assert stored.attendees == "Olga (Globex)\nKenji" and stored.reminder_sent_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (held(date(2026, 3, 21)), "date", "after today"),
        (held(date(2025, 12, 31)), "date", "outside it"),
        (held(date(2026, 3, 2), date(2026, 3, 2)), "next_date", "must come after"),
        (held(date(2026, 3, 2), kind="milestone"), "milestone", "Name the milestone"),
        (held(date(2026, 3, 2), milestone="go-live"), "milestone", "names no milestone"),
        (held(date(2026, 3, 2), kind="weekly"), "kind", "monthly or milestone"),
    ],
)
def test_a_check_in_that_does_not_hold_together_is_refused_naming_the_field(
    engagement: Engagement, tokyo_dse: StaffMember, data: CheckInInput, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        check_in_record(engagement=engagement, data=data, viewer=viewer_of(tokyo_dse), now=NOW)
    assert words in " ".join(refused.value.message_dict[field])
    assert not CheckIn.objects.exists()


@pytest.mark.django_db
def test_only_the_dse_or_the_cs_lead_records_check_ins(
    world: World, engagement: Engagement
) -> None:
    for person in (world.alice, world.amy):
        with pytest.raises(PermissionDenied):
            check_in_record(
                engagement=engagement,
                data=held(date(2026, 3, 2)),
                viewer=viewer_of(person),
                now=NOW,
            )
    check_in_record(
        engagement=engagement, data=held(date(2026, 3, 2)), viewer=viewer_of(world.lee), now=NOW
    )
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db
def test_the_reminder_goes_once_when_the_date_comes_in_the_dses_zone(
    engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    check_in_record(
        engagement=engagement,
        data=held(date(2026, 3, 2), date(2026, 4, 6)),
        viewer=viewer_of(tokyo_dse),
        now=NOW,
    )
    # 6 April starts at 15:00 UTC on the 5th in Tokyo.
    assert check_in_reminders_send(now=utc(2026, 4, 5, 14, 59)) == 0
    assert check_in_reminders_send(now=utc(2026, 4, 5, 15, 0)) == 1
    assert check_in_reminders_send(now=utc(2026, 4, 5, 15, 10)) == 0
    assert check_in_reminders_send(now=utc(2026, 4, 9)) == 0
    mail = OutboxMessage.objects.get(kind=OutboxKind.DSE_CHECKIN_REMINDER)
    assert mail.recipient == tokyo_dse.user.email
    assert mail.subject == "Check-in due: Globex (monthly), 06 April 2026"
    assert "Monday 6 April 2026" in mail.text_body
    assert reverse("dse_rhythm:console_check_ins", args=[engagement.pk]) in mail.text_body
    assert CheckIn.objects.get().reminder_sent_at == utc(2026, 4, 5, 15, 0)


@pytest.mark.django_db
def test_a_later_check_in_of_the_same_kind_answers_the_date_and_no_reminder_goes(
    engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    dse = viewer_of(tokyo_dse)
    monthly = check_in_record(
        engagement=engagement, data=held(date(2026, 3, 2), date(2026, 4, 6)), viewer=dse, now=NOW
    )
    go_live = check_in_record(
        engagement=engagement,
        data=held(date(2026, 3, 3), date(2026, 4, 1), kind="milestone", milestone="go-live"),
        viewer=dse,
        now=NOW,
    )
    # The monthly check-in is held early; the milestone's date is still open.
    early = check_in_record(
        engagement=engagement, data=held(date(2026, 3, 19), date(2026, 4, 20)), viewer=dse, now=NOW
    )
    monthly.refresh_from_db()
    go_live.refresh_from_db()
    assert monthly.answered_by == early and go_live.answered_by is None
    assert check_in_reminders_send(now=utc(2026, 4, 10)) == 1
    assert OutboxMessage.objects.get().subject.startswith("Check-in due: Globex (go-live)")


@pytest.mark.django_db
def test_no_reminder_for_a_date_after_the_engagement_ends(
    engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    check_in_record(
        engagement=engagement,
        data=held(date(2026, 3, 2), date(2027, 1, 5)),
        viewer=viewer_of(tokyo_dse),
        now=NOW,
    )
    assert check_in_reminders_send(now=utc(2027, 1, 6)) == 0


def test_the_worker_runs_the_rhythm_job() -> None:
    jobs = {job.name: job for job in periodic_jobs()}
    assert jobs["dse rhythm"].every == 600


@pytest.mark.django_db
def test_the_dse_records_a_check_in_in_the_console_and_the_customer_reads_it_in_the_hub(
    client: Client, world: World, engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    url = reverse("dse_rhythm:console_check_ins", args=[engagement.pk])
    login(client, tokyo_dse.user)
    page = client.get(url)
    assert page.status_code == 200 and b"Record a check-in" in page.content
    refused = client.post(url, {"kind": "monthly", "date": "2026-03-02", "attendees": ""})
    assert refused.status_code == 200 and b"This field is required" in refused.content
    assert not CheckIn.objects.exists()
    done = client.post(
        url,
        {
            "kind": "milestone",
            "milestone": "upgrade",
            "date": "2026-03-02",
            "attendees": "Olga, Kenji",
            "notes": "Rolling upgrade to 8.17 planned.",
            "next_date": "2026-04-01",
        },
    )
    assert done.status_code == 302
    assert CheckIn.objects.get().milestone == "upgrade"

    login(client, world.alice.user)  # staff, not the DSE: reads, no form
    page = client.get(url)
    assert page.status_code == 200 and b"Record a check-in" not in page.content

    login(client, world.olga.user)
    hub = client.get(reverse("dse_rhythm:hub_check_ins", args=[engagement.pk]))
    assert hub.status_code == 200 and b"Rolling upgrade to 8.17 planned." in hub.content
    assert client.post(reverse("dse_rhythm:hub_check_ins", args=[engagement.pk])).status_code == 405
    login(client, world.carol.user)  # another organisation's contact
    assert client.get(reverse("dse_rhythm:hub_check_ins", args=[engagement.pk])).status_code == 404


@pytest.mark.django_db
def test_the_engagement_pages_rhythm_section_links_each_face_and_names_the_next_date(
    world: World, engagement: Engagement, tokyo_dse: StaffMember
) -> None:
    check_in_record(
        engagement=engagement,
        data=held(date(2026, 3, 2), date(2026, 3, 10)),
        viewer=viewer_of(tokyo_dse),
        now=NOW,
    )
    with time_machine.travel(NOW, tick=False):
        console = render_to_string(
            "dse/_rhythm_section.html",
            {"engagement": engagement, "viewer": viewer_of(tokyo_dse)},
        )
        hub = render_to_string(
            "dse/_rhythm_section.html", {"engagement": engagement, "viewer": viewer_of(world.olga)}
        )
    assert "2 March 2026 (monthly)" in console and "10 March 2026" in console
    assert "(due, not recorded)" in console and "not written yet" in console
    assert reverse("dse_rhythm:console_reports", args=[engagement.pk]) in console
    assert reverse("dse_rhythm:hub_profile", args=[engagement.pk]) in hub
    assert "/console/" not in hub
