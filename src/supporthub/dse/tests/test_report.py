"""The monthly case report's figures against a month computed by hand (March 2026, Globex in
Europe/Berlin), its PDF and CSV, and its mail: once, on the organisation's first business day.
"""

from __future__ import annotations

import csv
import ctypes
import io
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2
import pypdfium2.raw as pdfium_raw
import pytest
import time_machine
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from supporthub.customers.selectors import local_date
from supporthub.customers.services import support_contact_retire
from supporthub.dse.models import (
    Absence,
    AbsenceKind,
    Engagement,
    EnvironmentProfileVersion,
    MonthlyReport,
    Substitution,
    TimeEntry,
)
from supporthub.dse.report import ReportFigures, report_figures
from supporthub.dse.report_mail import monthly_report_generate, monthly_reports_send
from supporthub.dse.report_render import report_csv, report_pdf
from supporthub.dse.rhythm import CheckInInput, check_in_record
from supporthub.dse.tests.helpers import engagement_of as engagement_for
from supporthub.dse.tests.helpers import utc
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.sla.models import Closure
from supporthub.staff.models import StaffMember
from supporthub.testing import factories as f
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import conversation, services
from supporthub.tickets.models import Channel, MessageKind, Status, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_open

BERLIN = ZoneInfo("Europe/Berlin")


def engagement_of(world: World, engineer: StaffMember, **terms: Any) -> Engagement:
    return engagement_for(world.other_organisation, engineer, **{"limit": Decimal(20), **terms})


class Month:
    """The hand-written month: tickets, replies, closings, time, check-ins, days off."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.alice = viewer_of(world.alice)
        self.dora = f.staff(
            user__username="dora",
            time_zone="Europe/Berlin",
            holiday_country="DE",
            holiday_subdivision="BY",
        )
        self.max = f.staff(
            user__username="max",
            time_zone="Europe/London",
            holiday_country="GB",
            holiday_subdivision="NIR",
        )
        self.eve = f.staff(user__username="eve")
        self.engagement = engagement_of(world, self.dora)

    def ticket(self, severity: int, received: datetime, subject: str = "case") -> Ticket:
        return ticket_open(
            request=TicketRequest(
                organisation=self.world.other_organisation,
                requester=self.world.olga,
                subject=subject,
                body="",
                severity=severity,
                channel=Channel.HUB,
                received_at=received,
            )
        )

    def reply(self, ticket: Ticket, at: datetime) -> None:
        conversation.ticket_add_message(
            ticket=ticket,
            kind=MessageKind.PUBLIC_REPLY,
            body="Looking.",
            author_staff=self.world.alice,
            at=at,
        )

    def status(self, ticket: Ticket, status: Status, at: datetime) -> None:
        with time_machine.travel(at, tick=False):
            services.ticket_set_status(ticket=ticket, status=status, viewer=self.alice)

    def log(
        self,
        ticket: Ticket,
        minutes: int,
        day: date,
        *,
        engineer: StaffMember | None = None,
        counts_toward_limit: bool = True,
        over_limit: bool = False,
    ) -> None:
        TimeEntry.objects.create(
            engagement=self.engagement,
            ticket=ticket,
            engineer=engineer or self.dora,
            minutes=minutes,
            date=day,
            counts_toward_limit=counts_toward_limit,
            over_limit=over_limit,
            created_at=utc(2026, 3, 31),
        )

    def absence(self, kind: AbsenceKind, start: date, end: date, **kwargs: object) -> None:
        Absence.objects.create(
            kind=kind, start=start, end=end, created_at=utc(2026, 1, 1), **kwargs
        )


@pytest.fixture
def march(world: World) -> Month:
    m = Month(world)
    # A: Sev 1 received 00:30 on 1 March in Berlin (still February in UTC), answered in 20
    # minutes (met), solved on the 2nd.
    a = m.ticket(1, utc(2026, 2, 28, 23, 30), "Cluster red")
    m.reply(a, utc(2026, 2, 28, 23, 50))
    m.status(a, Status.SOLVED, utc(2026, 3, 2, 10))
    # B: Sev 1 answered after 3 hours (breached: 1 hour), solved, reopened by the customer,
    # solved again: closed once.
    b = m.ticket(1, utc(2026, 3, 10, 9), "Nodes leaving")
    m.reply(b, utc(2026, 3, 10, 12))
    m.status(b, Status.SOLVED, utc(2026, 3, 11, 9))
    conversation.ticket_add_message(
        ticket=b,
        kind=MessageKind.PUBLIC_REPLY,
        body="It is back.",
        author_contact=m.world.olga,
        at=utc(2026, 3, 12, 9),
    )
    m.status(b, Status.SOLVED, utc(2026, 3, 20, 9))
    # C: Sev 2 answered in an hour (met: 4 hours), still open at the month's end.
    c = m.ticket(2, utc(2026, 3, 16, 8), "Slow aggregations")
    m.reply(c, utc(2026, 3, 16, 9))
    # D: Sev 3 at 23:30 on 31 March in Berlin, unanswered, still in time when generated.
    d = m.ticket(3, utc(2026, 3, 31, 21, 30), "Question on ILM")
    # E: Sev 2 never answered (breached), solved at 00:30 on 1 April in Berlin: not March's.
    e = m.ticket(2, utc(2026, 3, 20, 8), "Ingest lag")
    m.status(e, Status.SOLVED, utc(2026, 3, 31, 22, 30))
    # F: Sev 3 of February, solved on 5 March: closed in March, not opened in it.
    f_ = m.ticket(3, utc(2026, 2, 10, 9), "Old question")
    m.reply(f_, utc(2026, 2, 10, 10))
    m.status(f_, Status.SOLVED, utc(2026, 3, 5, 9))
    # G: Sev 3 at 00:30 on 1 April in Berlin (March in UTC): April's.
    g = m.ticket(3, utc(2026, 3, 31, 22, 30), "April question")
    # I: Sev 3 answered in 10 minutes (met), closed as out of scope the next day.
    i = m.ticket(3, utc(2026, 3, 3, 9), "Write our ingest script")
    m.reply(i, utc(2026, 3, 3, 9, 10))
    with time_machine.travel(utc(2026, 3, 4, 9), tick=False):
        services.ticket_close_out_of_scope(
            ticket=i, exclusion="customer_applications", note="", viewer=m.alice
        )
    # Another organisation's case in March counts nowhere.
    ticket_open(
        request=TicketRequest(
            organisation=m.world.organisation,
            requester=m.world.carol,
            subject="Initech's",
            body="",
            severity=1,
            channel=Channel.HUB,
            received_at=utc(2026, 3, 12, 9),
        )
    )
    # Time: the month's counted minutes are 90 + 240 + 600 + 330 = 1,260 (21 hours of 20).
    m.log(a, 120, date(2026, 2, 28))  # February
    m.log(a, 90, date(2026, 3, 1))
    m.log(b, 240, date(2026, 3, 10))
    m.log(b, 60, date(2026, 3, 11), engineer=m.eve, counts_toward_limit=False)
    m.log(c, 600, date(2026, 3, 16))
    m.log(c, 330, date(2026, 3, 31), over_limit=True)
    m.log(e, 45, date(2026, 4, 1))  # April
    del d, g
    # Max takes over from Dora at 09:00 on 10 March (Berlin).
    Substitution.objects.create(
        engagement=m.engagement,
        from_engineer=m.dora,
        to_engineer=m.max,
        reason="Dora moves to the Premium team",
        at=utc(2026, 3, 10, 8),
    )
    m.engagement.engineer = m.max
    m.engagement.save(update_fields=["engineer"])
    # Check-ins: two in March, one each side of it (recorded by the CS lead).
    lee = viewer_of(m.world.lee)
    for day, kind, milestone in (
        (date(2026, 2, 27), "monthly", ""),
        (date(2026, 3, 2), "monthly", ""),
        (date(2026, 3, 25), "milestone", "go-live"),
        (date(2026, 4, 1), "monthly", ""),
    ):
        check_in_record(
            engagement=m.engagement,
            data=CheckInInput(
                kind=kind,
                milestone=milestone,
                date=day,
                attendees="Olga, Dora",
                notes="",
                next_date=None,
            ),
            viewer=lee,
            now=utc(2026, 4, 1, 12),
        )
    admin = AbsenceKind.ADMINISTRATIVE_DAY
    # Dora, the DSE until the 9th (DE-BY): 2 March (Sun 1st off), 5 March (the 6th is a
    # company holiday in Germany), 9 March (the 7th and 8th are a weekend).
    m.absence(admin, date(2026, 2, 27), date(2026, 3, 2), engineer=m.dora)
    m.absence(admin, date(2026, 3, 5), date(2026, 3, 6), engineer=m.dora)
    m.absence(AbsenceKind.COMPANY_HOLIDAY, date(2026, 3, 6), date(2026, 3, 6), holiday_country="DE")
    m.absence(admin, date(2026, 3, 7), date(2026, 3, 9), engineer=m.dora)
    m.absence(admin, date(2026, 3, 12), date(2026, 3, 12), engineer=m.dora)  # Max's by then
    # Max, the DSE from the 10th (GB-NIR): 17 March is St Patrick's Day there; 18 March counts
    # (England's company holiday is not Northern Ireland's).
    m.absence(admin, date(2026, 3, 17), date(2026, 3, 18), engineer=m.max)
    m.absence(
        AbsenceKind.COMPANY_HOLIDAY,
        date(2026, 3, 18),
        date(2026, 3, 18),
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
    m.absence(AbsenceKind.TIME_OFF, date(2026, 3, 23), date(2026, 3, 23), engineer=m.max)
    m.absence(admin, date(2026, 3, 20), date(2026, 3, 20), engineer=m.eve)  # not the DSE
    return m


GENERATED = utc(2026, 4, 1, 7)  # 09:00 on 1 April in Berlin


@pytest.mark.django_db
def test_the_report_of_march_has_the_figures_computed_by_hand(march: Month) -> None:
    figures = report_figures(engagement=march.engagement, month=date(2026, 3, 19), now=GENERATED)

    assert (figures.month, figures.first_day, figures.last_day) == (
        date(2026, 3, 1),
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert figures.whole_month and figures.zone == "Europe/Berlin"
    assert figures.engineer == "Max"
    by_severity = {
        row.severity: (row.opened, row.closed, row.met, row.breached, row.pending, row.no_target)
        for row in figures.severities
    }
    assert by_severity == {
        1: (2, 2, 1, 1, 0, 0),  # A, B opened and closed (B once); A met, B breached
        2: (2, 0, 1, 1, 0, 0),  # C met, E breached; E solved on 1 April in Berlin
        3: (2, 2, 1, 0, 1, 0),  # D pending, I met; F and I closed
    }
    assert [row.name for row in figures.severities] == [
        "Severity Level 1",
        "Severity Level 2",
        "Severity Level 3",
    ]
    assert [row.attainment for row in figures.severities] == [50, 50, 100]
    total = figures.total
    assert (total.opened, total.closed, total.met, total.breached, total.pending) == (6, 4, 3, 2, 1)
    assert total.attainment == 60

    assert figures.minutes_used == 1260 and figures.hours_used == Decimal("21.00")
    assert figures.hours_used_text == "21" and figures.limit_text == "20"
    assert figures.percent_of_limit == 105 and figures.over_limit
    assert figures.entries_over_limit == 1
    assert [(c.subject, c.minutes, c.minutes_logged) for c in figures.cases] == [
        ("Slow aggregations", 930, 930),
        ("Nodes leaving", 240, 300),
        ("Cluster red", 90, 90),
    ]
    assert figures.cases[1].others_minutes == 60 and figures.cases[0].hours_text == "15.5"

    assert [(c.date, c.kind, c.milestone) for c in figures.check_ins] == [
        (date(2026, 3, 2), "Monthly check-in", ""),
        (date(2026, 3, 25), "Milestone check-in", "go-live"),
    ]
    assert figures.administrative_days == (
        date(2026, 3, 2),
        date(2026, 3, 5),
        date(2026, 3, 9),
        date(2026, 3, 18),
    )
    assert len(figures.out_of_scope) == 9
    assert figures.out_of_scope[0] == "Writing code."
    assert figures.out_of_scope[2] == "On-site visits."
    assert figures.out_of_scope[-1].startswith("Out of Scope Services and Items:")

    # Stored as JSON and read back, the figures are the same.
    assert ReportFigures.from_json(figures.to_json()) == figures


@pytest.mark.django_db
def test_a_month_cut_by_the_engagements_end_counts_its_term_only(world: World) -> None:
    engagement = engagement_of(
        world, world.alice, start=date(2025, 6, 1), end=date(2026, 3, 15), limit=Decimal(25)
    )
    for day in (10, 20):
        ticket_open(
            request=TicketRequest(
                organisation=world.other_organisation,
                requester=world.olga,
                subject=f"On the {day}th",
                body="",
                severity=3,
                channel=Channel.HUB,
                received_at=datetime(2026, 3, day, 10, tzinfo=BERLIN),
            )
        )
    figures = report_figures(engagement=engagement, month=date(2026, 3, 1), now=GENERATED)
    assert (figures.first_day, figures.last_day, figures.whole_month) == (
        date(2026, 3, 1),
        date(2026, 3, 15),
        False,
    )
    assert figures.total.opened == 1


@pytest.mark.django_db
def test_the_pdf_is_set_in_dejavu_and_says_what_the_figures_say(march: Month) -> None:
    figures = report_figures(engagement=march.engagement, month=date(2026, 3, 1), now=GENERATED)
    pdf = report_pdf(figures)
    assert pdf.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(pdf)
    try:
        text = "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
        fonts = set()
        page = document[0].get_textpage()
        for index in range(page.count_chars()):
            name = ctypes.create_string_buffer(128)
            pdfium_raw.FPDFText_GetFontInfo(page.raw, index, name, 128, None)
            fonts.add(name.value.decode().split("+")[-1])
    finally:
        document.close()
    fonts.discard("")
    assert fonts and all(font.startswith("DejaVu-Sans") for font in fonts), fonts
    flat = " ".join(text.split())
    assert "Monthly case report: March 2026" in flat
    assert "21 of 20 hours used (105%) over the Monthly Limit" in flat
    assert "Check-ins held: 2" in flat and "Administrative Days used: 4" in flat
    assert "Writing code." in flat and "On-site visits." in flat
    assert "Page 1 of" in flat


@pytest.mark.django_db
def test_the_csv_has_a_row_per_figure_and_quotes_formula_like_text(march: Month) -> None:
    Ticket.objects.filter(subject="Slow aggregations").update(subject="=HYPERLINK(1)")
    figures = report_figures(engagement=march.engagement, month=date(2026, 3, 1), now=GENERATED)
    rows = list(csv.reader(io.StringIO(report_csv(figures))))
    assert rows[0] == ["section", "item", "value", "unit"]
    values = {(section, item): value for section, item, value, _ in rows[1:]}
    assert values[("cases", "opened: all severities")] == "6"
    assert values[("cases", "closed: Severity Level 3")] == "2"
    assert values[("first response", "attainment: all severities")] == "60"
    assert values[("first response", "still in time: Severity Level 3")] == "1"
    assert values[("hours", "used")] == "21.00"
    assert values[("hours", "monthly limit")] == "20"
    assert values[("check-ins", "held")] == "2"
    assert values[("administrative days", "used")] == "4"
    cases = [item for section, item, _, _ in rows if section == "hours by case"]
    assert cases[0].endswith("=HYPERLINK(1)") and cases[0].startswith("SH-")
    out_of_scope = [item for section, item, _, _ in rows if section == "out of scope"]
    assert out_of_scope[0] == "Writing code." and len(out_of_scope) == 9
    # A cell that starts like a formula is quoted; the reference comes first here, so it is not.
    assert all(not value.startswith("=") for row in rows for value in row)


# -- mailed once, on the first business day ------------------------------------------------------


@pytest.mark.django_db
def test_the_report_is_mailed_once_on_the_first_business_day_of_the_organisations_calendar(
    world: World,
) -> None:
    globex = world.other_organisation
    globex.account_manager = world.amy
    globex.holiday_country, globex.holiday_subdivision = "DE", "BY"
    globex.save()
    retired = f.add_contact(globex, "Rita")
    support_contact_retire(contact=retired)
    engagement = engagement_of(world, world.alice, start=date(2026, 6, 1), end=date(2027, 5, 31))
    # 1 January 2027 is New Year's Day, then a weekend; 4 January is closed for Globex.
    Closure.objects.create(date=date(2027, 1, 4), name="Stocktaking", organisation=globex)
    before = datetime(2027, 1, 5, 0, 0, tzinfo=BERLIN) - timedelta(seconds=1)

    assert monthly_reports_send(now=before) == 0
    assert monthly_reports_send(now=before + timedelta(seconds=1)) == 1
    assert monthly_reports_send(now=before + timedelta(hours=5)) == 0
    report = MonthlyReport.objects.get()
    assert (report.engagement, report.month) == (engagement, date(2026, 12, 1))
    assert report.sent_at == before + timedelta(seconds=1)
    mails = OutboxMessage.objects.filter(kind=OutboxKind.DSE_MONTHLY_REPORT)
    assert sorted(m.recipient for m in mails) == sorted([world.olga.email, world.amy.user.email])
    olga = mails.get(recipient=world.olga.email)
    assert olga.subject == (
        "Monthly case report, December 2026: Globex (Designated Support Engineer)"
    )
    assert "/hub/designated-support-engineer/" in olga.text_body
    assert "2026-12/pdf/" in olga.text_body
    assert "OUT OF SCOPE" in olga.text_body and "Writing code." in olga.html_body
    amy = mails.get(recipient=world.amy.user.email)
    assert "/console/engagements/" in amy.text_body
    # Generating again is a no-op: the month's row exists.
    assert monthly_report_generate(engagement=engagement, month=date(2026, 12, 1)) is None
    assert mails.count() == 2


@pytest.mark.django_db
def test_a_month_the_engagement_did_not_run_in_gets_no_report(world: World) -> None:
    engagement_of(world, world.alice, start=date(2026, 7, 1), end=date(2027, 6, 30))
    assert monthly_reports_send(now=utc(2026, 7, 2, 9)) == 0  # June: before the term
    assert monthly_reports_send(now=utc(2026, 8, 3, 9)) == 1  # July
    assert MonthlyReport.objects.get().month == date(2026, 7, 1)


@pytest.mark.django_db
def test_the_demo_gives_the_platinum_organisation_its_rhythm_and_last_months_report() -> None:
    call_command("demo", verbosity=0)
    call_command("demo", verbosity=0)  # again: nothing doubled
    engagement = Engagement.objects.get(organisation__name="Globex Retail")
    assert engagement.check_ins.count() == 2
    profile = EnvironmentProfileVersion.objects.filter(
        profile__organisation=engagement.organisation
    )
    assert sorted(profile.values_list("number", flat=True)) == [1, 2]
    report = MonthlyReport.objects.get(engagement=engagement)
    figures = ReportFigures.from_json(report.figures)
    assert report.sent_at is not None and report.month < local_date(
        engagement.organisation, timezone.now()
    ).replace(day=1)
    assert len(figures.check_ins) == 2 and figures.administrative_days


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_write_one_report_and_one_mail_each(world: World) -> None:
    engagement_of(world, world.alice, start=date(2026, 6, 1), end=date(2027, 5, 31))
    due = utc(2026, 7, 1, 9)  # Wednesday 1 July, a business day
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            sent.append(monthly_reports_send(now=due))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [0, 1]
    assert MonthlyReport.objects.count() == 1
    assert OutboxMessage.objects.filter(kind=OutboxKind.DSE_MONTHLY_REPORT).count() == 1  # Olga
