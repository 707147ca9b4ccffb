"""The environment profile: versions with who changed what, refused edits that change
nothing, read-only in the Hub; and the report pages of both faces."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from supporthub.customers.models import OrganisationMember
from supporthub.dse.models import Engagement, EnvironmentProfileVersion, MonthlyReport
from supporthub.dse.profile import ProfileInput, current_version, profile_edit, profile_history
from supporthub.dse.report_mail import monthly_report_generate
from supporthub.dse.tests.helpers import engagement_of, login
from supporthub.testing import factories as f
from supporthub.testing.world import World, viewer_of

FIRST = ProfileInput(
    deployments="prod: Elastic Cloud, eu-central-1\nstaging: Elastic Cloud",
    versions="prod: 8.15.3",
    architecture="Kafka into Logstash into Elasticsearch",
    use_cases="Product search",
    summary="First profile",
)
SECOND = ProfileInput(
    deployments="prod: Elastic Cloud, eu-central-1\nstaging: Elastic Cloud\nlogs: Elastic Cloud",
    versions="prod: 8.17.0",
    architecture="Kafka into Logstash into Elasticsearch",
    use_cases="Product search",
    summary="Upgrade and a logs deployment",
)


QUERIES_REPORT_LIST = 9


@pytest.fixture
def engagement(world: World) -> Engagement:
    return engagement_of(world.other_organisation, world.alice)


@pytest.mark.django_db
def test_each_edit_is_a_version_with_who_when_and_what_changed(
    world: World, engagement: Engagement
) -> None:
    alice = viewer_of(world.alice)
    first = profile_edit(
        engagement=engagement,
        data=FIRST,
        based_on=0,
        viewer=alice,
        now=datetime(2026, 2, 1, 9, tzinfo=UTC),
    )
    second = profile_edit(
        engagement=engagement,
        data=SECOND,
        based_on=1,
        viewer=viewer_of(world.lee),
        now=datetime(2026, 3, 1, 9, tzinfo=UTC),
    )
    assert (first.number, second.number) == (1, 2)
    assert current_version(organisation=world.other_organisation) == second
    assert first.versions == "prod: 8.15.3" and first.changed_by == world.alice.user
    history = profile_history(organisation=world.other_organisation)
    assert [(h.version.number, h.who, h.version.summary) for h in history] == [
        (2, "Lee", "Upgrade and a logs deployment"),
        (1, "Alice", "First profile"),
    ]
    changed = {c.label: c.lines for c in history[0].changes}
    assert set(changed) == {"Deployments", "Versions"}
    assert ("+", "logs: Elastic Cloud") in changed["Deployments"]
    assert changed["Versions"] == (("-", "prod: 8.15.3"), ("+", "prod: 8.17.0"))
    assert {c.label for c in history[1].changes} == {
        "Deployments",
        "Versions",
        "Architecture",
        "Use cases",
    }


@pytest.mark.django_db
def test_a_stale_an_empty_or_an_unchanged_edit_changes_nothing(
    world: World, engagement: Engagement
) -> None:
    alice = viewer_of(world.alice)
    with pytest.raises(ValidationError) as empty:
        profile_edit(
            engagement=engagement,
            data=ProfileInput("", "", "", "", ""),
            based_on=0,
            viewer=alice,
        )
    assert "deployments" in empty.value.message_dict
    profile_edit(engagement=engagement, data=FIRST, based_on=0, viewer=alice)
    with pytest.raises(ValidationError) as stale:
        profile_edit(engagement=engagement, data=SECOND, based_on=0, viewer=alice)
    assert "version 1 now, you edited version 0" in stale.value.message_dict["based_on"][0]
    unchanged = ProfileInput(
        deployments=FIRST.deployments.replace("\n", "\r\n") + "  \n",
        versions=FIRST.versions,
        architecture=FIRST.architecture,
        use_cases=FIRST.use_cases,
        summary="nothing really",
    )
    with pytest.raises(ValidationError) as same:
        profile_edit(engagement=engagement, data=unchanged, based_on=1, viewer=alice)
    assert "Nothing changed" in same.value.message_dict["summary"][0]
    with pytest.raises(PermissionDenied):
        profile_edit(engagement=engagement, data=SECOND, based_on=1, viewer=viewer_of(world.amy))
    assert EnvironmentProfileVersion.objects.count() == 1


@pytest.mark.django_db
def test_the_dse_edits_in_the_console_and_the_organisation_reads_in_the_hub(
    client: Client, world: World, engagement: Engagement
) -> None:
    console = reverse("dse_rhythm:console_profile", args=[engagement.pk])
    login(client, world.alice.user)
    assert b"Write the profile" in client.get(console).content
    saved = client.post(
        console,
        {
            "deployments": FIRST.deployments,
            "versions": FIRST.versions,
            "architecture": FIRST.architecture,
            "use_cases": FIRST.use_cases,
            "summary": "From the kick-off",
            "based_on": "0",
        },
    )
    assert saved.status_code == 302
    stale = client.post(console, {"deployments": "x", "based_on": "0"})
    assert stale.status_code == 200 and b"changed since you opened it" in stale.content
    assert EnvironmentProfileVersion.objects.count() == 1

    hub = reverse("dse_rhythm:hub_profile", args=[engagement.pk])
    gus = f.user(username="gus")
    assert isinstance(gus, User)
    member = OrganisationMember.objects.create(
        organisation=world.other_organisation, user=gus, name="Gus"
    )
    for person in (world.olga.user, member.user):
        login(client, person)
        page = client.get(hub)
        assert page.status_code == 200
        assert b"prod: 8.15.3" in page.content and b"From the kick-off" in page.content
        assert b"<form" not in page.content.split(b"<main>")[1]
        assert client.post(hub, {"deployments": "x"}).status_code == 405
    login(client, world.carol.user)
    assert client.get(hub).status_code == 404
    login(client, world.amy.user)  # staff, but neither the DSE nor Globex's manager
    assert client.get(console).status_code == 404


# -- the report's pages ---------------------------------------------------------------------


@pytest.mark.django_db
def test_report_pages_pdf_and_csv_on_both_faces(
    client: Client,
    world: World,
    engagement: Engagement,
    django_assert_max_num_queries: Callable[[int], AbstractContextManager[object]],
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        monthly_report_generate(engagement=engagement, month=date(2026, 2, 1))
    with time_machine.travel(datetime(2026, 3, 10, 9, tzinfo=UTC), tick=False):
        login(client, world.alice.user)
        client.get(reverse("dse_rhythm:console_reports", args=[engagement.pk]))  # warm the session
        # A fixed number of statements however many months: the session, the login, the staff
        # member and roles, the engagement, its reports, the subscription, the policy version
        # and the closures.
        with django_assert_max_num_queries(QUERIES_REPORT_LIST):
            listing = client.get(reverse("dse_rhythm:console_reports", args=[engagement.pk]))
        assert listing.status_code == 200
        text = listing.content.decode()
        assert "Mailed 2 Mar 2026" in text and "In progress; mailed 1 Apr 2026" in text
        assert "January 2026" in text  # before the feature: not generated, computed on demand
        page = client.get(reverse("dse_rhythm:console_report", args=[engagement.pk, "2026-03"]))
        assert page.status_code == 200 and b"The month is not over" in page.content
        pdf = client.get(reverse("dse_rhythm:console_report_pdf", args=[engagement.pk, "2026-02"]))
        assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
        assert 'filename="dse-report-globex-2026-02.pdf"' in pdf["Content-Disposition"]
        for bad in ("2025-12", "2026-04", "2026-13", "march"):
            url = reverse("dse_rhythm:console_report", args=[engagement.pk, bad])
            assert client.get(url).status_code == 404, bad

        login(client, world.olga.user)
        hub_list = client.get(reverse("dse_rhythm:hub_reports", args=[engagement.pk]))
        assert b"February 2026" in hub_list.content and b"January 2026" not in hub_list.content
        hub = client.get(reverse("dse_rhythm:hub_report", args=[engagement.pk, "2026-02"]))
        assert hub.status_code == 200 and b"Writing code." in hub.content
        csv = client.get(reverse("dse_rhythm:hub_report_csv", args=[engagement.pk, "2026-02"]))
        assert csv["Content-Type"].startswith("text/csv")
        assert csv.content.startswith(b"section,item,value,unit")
        # The Hub shows only reports that were generated (what was sent).
        unsent = reverse("dse_rhythm:hub_report", args=[engagement.pk, "2026-01"])
        assert client.get(unsent).status_code == 404
        assert MonthlyReport.objects.count() == 1
