"""Engagements: refused with the reason when the package's terms do not allow them; renewal
is an explicit new engagement by agreement; substitution moves the open cases, keeps the
history and tells the customer. Administrative Days: capped per twelve-month period,
prorated (rounded down) for a shorter one."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from supporthub.customers.models import BillingTerm, Subscription
from supporthub.dse.calendars import periods
from supporthub.dse.models import AbsenceKind, Engagement, Substitution
from supporthub.dse.services import absence_add, engagement_create, engagement_substitute
from supporthub.dse.tests.test_routing import TUESDAY_0900_LA
from supporthub.dse.tests.world import SKU, DseWorld, open_case
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing import factories as f
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Status, Ticket


def _create(world: World, **changes: object) -> Engagement:
    fields: dict[str, object] = {
        "organisation": world.other_organisation,
        "engineer": world.alice,
        "subscriptions": list(Subscription.objects.filter(organisation=world.other_organisation)),
        "sku": SKU,
        "start": date(2026, 1, 1),
        "end": date(2026, 12, 31),
    }
    fields.update(changes)
    return engagement_create(**fields)  # type: ignore[arg-type]


def _refusal(world: World, **changes: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        _create(world, **changes)
    assert not Engagement.objects.exists()
    return refused.value.message_dict


@pytest.mark.django_db
def test_a_platinum_annual_engagement_gets_the_policys_monthly_limit(world: World) -> None:
    engagement = _create(world)
    assert engagement.monthly_limit_hours == 25
    assert Subscription.objects.get(organisation=world.other_organisation).dse_covered


@pytest.mark.django_db
def test_a_gold_subscription_is_refused_naming_the_levels(world: World) -> None:
    gold = list(Subscription.objects.filter(organisation=world.organisation))
    errors = _refusal(world, organisation=world.organisation, subscriptions=gold)
    assert errors["subscriptions"] == [
        "The Gold subscription (2024-06-11 to 2030-12-31) cannot have a Designated Support "
        "Engineer: the package applies only to Platinum and Enterprise."
    ]


@pytest.mark.django_db
def test_a_monthly_billed_subscription_is_refused(world: World) -> None:
    Subscription.objects.filter(organisation=world.other_organisation).update(
        billing_term=BillingTerm.MONTHLY
    )
    errors = _refusal(world)
    assert "billed monthly" in errors["subscriptions"][0]
    assert "annual or multi-year" in errors["subscriptions"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("end", "message"),
    [
        (date(2026, 9, 29), "under the minimum of 9 months (it would end on 2026-09-30"),
        (date(2029, 1, 1), "over the maximum of 36 months (it may end on 2028-12-31"),
    ],
)
def test_terms_under_9_months_or_over_3_years_are_refused(
    world: World, end: date, message: str
) -> None:
    assert message in _refusal(world, end=end)["end"][0]


@pytest.mark.django_db
def test_exactly_9_months_and_exactly_3_years_are_allowed(world: World) -> None:
    nine = _create(world, end=date(2026, 9, 30))
    nine.delete()
    assert _create(world, end=date(2028, 12, 31)).end == date(2028, 12, 31)


@pytest.mark.django_db
def test_an_unknown_sku_and_an_overlapping_engagement_are_refused(world: World) -> None:
    assert "is not a SKU of the package" in _refusal(world, sku="Gold star")["sku"][0]
    _create(world)
    with pytest.raises(ValidationError) as refused:
        _create(world, start=date(2026, 6, 1), end=date(2027, 5, 31))
    assert "already covers these subscriptions" in refused.value.messages[0]


@pytest.mark.django_db
def test_renewal_is_a_new_engagement_by_agreement_only(world: World) -> None:
    first = _create(world)
    with pytest.raises(ValidationError) as refused:
        _create(world, start=date(2027, 1, 1), end=date(2027, 12, 31), renewal_of=first)
    assert "mutual agreement" in refused.value.messages[0]
    renewal = _create(
        world,
        start=date(2027, 1, 1),
        end=date(2027, 12, 31),
        renewal_of=first,
        agreement="Order 2027-114, signed 2026-11-20",
    )
    assert renewal.renewal_of == first and first.end == date(2026, 12, 31)
    with pytest.raises(ValidationError):
        _create(
            world,
            start=date(2028, 1, 1),
            end=date(2028, 12, 31),
            renewal_of=first,
            agreement="again",
        )


@pytest.mark.django_db
def test_substitution_moves_open_cases_keeps_history_and_tells_the_contacts(
    dse: DseWorld,
) -> None:
    open_one = open_case(dse, TUESDAY_0900_LA)
    closed = open_case(dse, TUESDAY_0900_LA)
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    assert open_one.assignee == dse.dora
    substitution = engagement_substitute(
        engagement=dse.engagement, engineer=dse.eric, reason="Dora moves to the EMEA team"
    )
    assert isinstance(substitution, Substitution) and substitution.cases_moved == 1
    open_one.refresh_from_db()
    closed.refresh_from_db()
    assert open_one.assignee == dse.eric and closed.assignee == dse.dora
    entry = AuditEntry.objects.get(ticket=open_one, code="dse.substituted")
    assert entry.data["previous"] == dse.dora.pk and entry.data["reason"]
    dse.engagement.refresh_from_db()
    assert dse.engagement.engineer == dse.eric
    mail = OutboxMessage.objects.get(kind=OutboxKind.DSE_SUBSTITUTED)
    assert mail.recipient == dse.world.olga.email
    assert "Eric is now the Designated Support Engineer" in mail.text_body
    assert "Eric" in mail.html_body and "taking over from Dora" in mail.html_body
    with pytest.raises(ValidationError):
        engagement_substitute(engagement=dse.engagement, engineer=dse.eric, reason="again")


def test_a_full_twelve_month_period_allows_16_and_a_shorter_one_is_prorated_down() -> None:
    assert [(p.start, p.end, p.cap) for p in periods(date(2026, 1, 1), date(2027, 9, 30), 16)] == [
        (date(2026, 1, 1), date(2026, 12, 31), 16),
        # 273 days of 365: 11.97, rounded down to 11.
        (date(2027, 1, 1), date(2027, 9, 30), 11),
    ]
    # A leap year's full period is still 16; a 9-month term alone: 274/366 x 16 = 11.98.
    assert [p.cap for p in periods(date(2028, 1, 1), date(2028, 12, 31), 16)] == [16]
    assert [p.cap for p in periods(date(2028, 1, 1), date(2028, 9, 30), 16)] == [11]
    # 3 years: three full periods.
    assert [p.cap for p in periods(date(2026, 3, 15), date(2029, 3, 14), 16)] == [16, 16, 16]


@pytest.mark.django_db
def test_one_administrative_day_past_the_cap_is_refused_with_the_count(dse: DseWorld) -> None:
    # Mondays to Fridays of 2026 without California holidays: 16 in March and April.
    absence_add(
        kind=AbsenceKind.ADMINISTRATIVE_DAY,
        engineer=dse.dora,
        start=date(2026, 3, 2),
        end=date(2026, 3, 20),  # 15 weekdays, none a California holiday
    )
    absence_add(
        kind=AbsenceKind.ADMINISTRATIVE_DAY,
        engineer=dse.dora,
        start=date(2026, 3, 28),  # a Saturday and Sunday, then Monday 30 March
        end=date(2026, 3, 31),  # 31 March is Cesar Chavez Day: not a Business Day
    )
    with pytest.raises(ValidationError) as refused:
        absence_add(
            kind=AbsenceKind.ADMINISTRATIVE_DAY,
            engineer=dse.dora,
            start=date(2026, 4, 1),
            end=date(2026, 4, 1),
        )
    assert refused.value.message_dict["start"] == [
        "Administrative Days: this would make 17 in 2026-01-01 to 2026-12-31 of the engagement "
        "with Globex, which allows 16 (16 already taken)."
    ]
    # Time off is not capped, and Administrative Days of the next engagement year start again.
    absence_add(
        kind=AbsenceKind.TIME_OFF, engineer=dse.dora, start=date(2026, 4, 1), end=date(2026, 4, 3)
    )
    with pytest.raises(ValidationError) as weekend:
        absence_add(
            kind=AbsenceKind.ADMINISTRATIVE_DAY,
            engineer=dse.dora,
            start=date(2026, 4, 4),
            end=date(2026, 4, 5),
        )
    assert "Business Day" in weekend.value.messages[0]


@pytest.mark.django_db
def test_a_short_engagement_prorates_the_cap(world: World) -> None:
    dora = f.staff(user__username="dora", time_zone="Europe/Berlin", holiday_country="DE")
    _create(world, engineer=dora, start=date(2026, 1, 1), end=date(2026, 9, 30))
    # 273/365 x 16 = 11.97: 11 Administrative Days.
    absence_add(
        kind=AbsenceKind.ADMINISTRATIVE_DAY,
        engineer=dora,
        start=date(2026, 2, 2),
        end=date(2026, 2, 16),  # 11 weekdays in Germany
    )
    with pytest.raises(ValidationError) as refused:
        absence_add(
            kind=AbsenceKind.ADMINISTRATIVE_DAY,
            engineer=dora,
            start=date(2026, 2, 17),
            end=date(2026, 2, 17),
        )
    assert "which allows 11 (11 already taken)" in refused.value.messages[0]


@pytest.mark.django_db
def test_a_company_holiday_names_a_place_and_no_engineer(dse: DseWorld) -> None:
    with pytest.raises(ValidationError) as refused:
        absence_add(
            kind=AbsenceKind.COMPANY_HOLIDAY,
            engineer=dse.dora,
            holiday_country="US",
            start=date(2026, 12, 24),
            end=date(2026, 12, 24),
        )
    assert "engineer" in refused.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        absence_add(
            kind=AbsenceKind.COMPANY_HOLIDAY,
            holiday_country="US",
            holiday_subdivision="XX",
            start=date(2026, 12, 24),
            end=date(2026, 12, 24),
        )
    assert "holiday_subdivision" in unknown.value.message_dict
