"""On-call rotations: weekly turns handed off at a local time (across daylight-saving
switches), one-off overrides, the "who is on call" page and the calendar feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.test import Client

from supporthub.businesstime import NaiveDatetimeError
from supporthub.routing.models import Rotation, RotationMember, RotationOverride
from supporthub.routing.oncall import Override, Turns, handoff, on_call_at, schedule
from supporthub.testing import factories as f

LA = ZoneInfo("America/Los_Angeles")
# Monday hand-offs at 09:00 in Los Angeles, from Monday 20 October 2025 (US summer time
# ends on Sunday 2 November 2025).
TURNS = Turns(
    members=["ann", "bob", "cy"],
    zone="America/Los_Angeles",
    starts_on=date(2025, 10, 20),
    handoff_time=time(9, 0),
)


def _la(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA)


def test_turns_go_round_in_order_and_hand_off_at_local_time_across_dst() -> None:
    assert handoff(TURNS, 0) == datetime(2025, 10, 20, 16, 0, tzinfo=UTC)  # 09:00 PDT
    assert handoff(TURNS, 2) == datetime(2025, 11, 3, 17, 0, tzinfo=UTC)  # 09:00 PST
    shifts = schedule(TURNS, [], _la(2025, 10, 20, 9), _la(2025, 11, 17, 9))
    assert [s.person for s in shifts] == ["ann", "bob", "cy", "ann"]
    # The week across the switch is 169 hours long: hand-offs stay at 09:00 local.
    assert shifts[1].ends_at - shifts[1].starts_at == timedelta(hours=169)
    assert all(s.starts_at.astimezone(LA).hour == 9 for s in shifts)


def test_who_is_on_call_just_before_and_at_the_handoff() -> None:
    before = on_call_at(TURNS, [], _la(2025, 11, 3, 8, 59))
    at = on_call_at(TURNS, [], _la(2025, 11, 3, 9, 0))
    assert before is not None and before.person == "bob"
    assert at is not None and at.person == "cy"
    assert at.starts_at == _la(2025, 11, 3, 9) and at.ends_at == _la(2025, 11, 10, 9)
    assert on_call_at(TURNS, [], _la(2025, 10, 20, 8, 0)) is None  # not started yet


def test_an_override_swaps_one_night_and_the_turn_resumes_after() -> None:
    swap = Override("dee", _la(2025, 10, 22, 18), _la(2025, 10, 23, 8), reason="Ann's wedding")
    shifts = schedule(TURNS, [swap], _la(2025, 10, 20, 9), _la(2025, 10, 27, 9))
    assert [(s.person, s.override) for s in shifts] == [
        ("ann", False),
        ("dee", True),
        ("ann", False),
    ]
    now = on_call_at(TURNS, [swap], _la(2025, 10, 22, 23))
    assert now is not None and (now.person, now.reason) == ("dee", "Ann's wedding")
    assert now.ends_at == _la(2025, 10, 23, 8)
    after = on_call_at(TURNS, [swap], _la(2025, 10, 23, 12))
    assert after is not None and after.person == "ann"
    assert (after.starts_at, after.ends_at) == (_la(2025, 10, 23, 8), _la(2025, 10, 27, 9))


def test_the_later_override_wins_where_two_overlap() -> None:
    first = Override("dee", _la(2025, 10, 22, 0), _la(2025, 10, 24, 0))
    second = Override("eve", _la(2025, 10, 23, 0), _la(2025, 10, 23, 12))
    now = on_call_at(TURNS, [first, second], _la(2025, 10, 23, 6))
    assert now is not None and now.person == "eve"


def test_naive_instants_are_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        on_call_at(TURNS, [], datetime(2025, 10, 22, 12))  # noqa: DTZ001


@pytest.fixture
def rotation(db: None) -> Rotation:
    rotation = Rotation.objects.create(
        name="US on call",
        region="us",
        time_zone="America/Los_Angeles",
        handoff_weekday=0,
        handoff_time=time(9, 0),
        starts_on=date(2025, 10, 20),
    )
    for position, name in enumerate(["ann", "bob", "cy"]):
        RotationMember.objects.create(
            rotation=rotation, staff=f.staff(user__username=name), position=position
        )
    return rotation


def test_handoff_day_must_match_the_first_date(rotation: Rotation) -> None:
    from django.core.exceptions import ValidationError

    rotation.starts_on = date(2025, 10, 21)  # a Tuesday
    with pytest.raises(ValidationError) as error:
        rotation.full_clean()
    assert "is not a Monday" in error.value.message_dict["starts_on"][0]


def test_the_page_says_who_is_on_call_now(rotation: Rotation, client: Client) -> None:
    RotationOverride.objects.create(
        rotation=rotation,
        staff=f.staff(user__username="dee"),
        starts_at=_la(2025, 10, 29, 18),
        ends_at=_la(2025, 10, 30, 8),
        reason="swap",
    )
    client.force_login(f.staff(user__username="viewer").user)
    with time_machine.travel(_la(2025, 10, 29, 20), tick=False):
        page = client.get("/console/on-call/").content.decode()
    assert "<strong>Dee</strong> is on call now (override: swap)" in page
    assert rotation.feed_token in page


def test_the_calendar_feed_lists_each_shift_with_a_stable_uid(
    rotation: Rotation, client: Client
) -> None:
    with time_machine.travel(_la(2025, 11, 5, 12), tick=False):
        response = client.get(f"/calendars/on-call/{rotation.feed_token}.ics")
        again = client.get(f"/calendars/on-call/{rotation.feed_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = [c for c in calendar.walk("VEVENT")]
    summaries = [str(e["summary"]) for e in events]
    assert summaries[:4] == ["On call: Ann", "On call: Bob", "On call: Cy", "On call: Ann"]
    starts = [e.decoded("dtstart") for e in events]
    assert starts[2] == datetime(2025, 11, 3, 17, 0, tzinfo=UTC)  # 09:00 PST, after the switch
    assert starts[1] == datetime(2025, 10, 27, 16, 0, tzinfo=UTC)  # 09:00 PDT
    uids = [str(e["uid"]) for e in icalendar.Calendar.from_ical(again.content).walk("VEVENT")]
    assert uids == [str(e["uid"]) for e in events]


def test_a_wrong_feed_token_finds_nothing(rotation: Rotation, client: Client) -> None:
    assert client.get("/calendars/on-call/not-the-token.ics").status_code == 404
