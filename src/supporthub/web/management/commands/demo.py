"""Load both example policies and a small demo data set; safe to run again."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from supporthub.access import viewer_for
from supporthub.customers import services as customer_services
from supporthub.customers.models import (
    BillingTerm,
    Deployment,
    Organisation,
    OrganisationMember,
    Subscription,
)
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.development import demo as development_demo
from supporthub.dse.demo import demo_engagement
from supporthub.dse.rhythm_demo import demo_rhythm
from supporthub.policies.models import Policy
from supporthub.policies.services import PolicyLoadError, policy_load
from supporthub.routing.models import Rotation, RotationMember
from supporthub.staff.models import Role, StaffMember, StaffRole
from supporthub.tickets import conversation, opening
from supporthub.tickets import services as ticket_services
from supporthub.tickets.models import Channel, MessageKind
from supporthub.tickets.opening import TicketRequest

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published in README for the demo only
EXAMPLES = Path(settings.SRC_DIR).parent.parent / "examples" / "policies"

STAFF: list[tuple[str, str, list[Role], str, str]] = [
    ("alice", "Alice Moreno", [Role.SUPPORT_ENGINEER], "us", "America/Los_Angeles"),
    ("eric", "Eric Lefèvre", [Role.SUPPORT_ENGINEER], "eu", "Europe/Paris"),
    ("amy", "Amy Chen", [Role.CS_ACCOUNT_MANAGER], "us", "America/Denver"),
    ("lee", "Lee Okafor", [Role.CS_LEAD], "us", "America/New_York"),
    ("pat", "Pat Byrne", [Role.PROJECT_MANAGER], "eu", "Europe/Dublin"),
    ("sam", "Sam Patel", [Role.SALES_REP], "us", "America/Chicago"),
    ("dora", "Dora Schmidt", [Role.SUPPORT_ENGINEER], "eu", "Europe/Berlin"),
    (
        "cora",
        "Cora Lindqvist",
        [Role.ENHANCEMENT_COMMITTEE, Role.SUPPORT_ENGINEER],
        "eu",
        "Europe/Stockholm",
    ),
]

# name, country, zone, policy, subscription level, billing term, contacts
ORGANISATIONS: list[tuple[str, str, str, str, str, BillingTerm, list[tuple[str, str, str]]]] = [
    (
        "Northwind Logistics",
        "US",
        "America/Chicago",
        "cloud-support",
        "enterprise",
        BillingTerm.MULTI_YEAR,
        [
            ("Carol Diaz", "carol@northwind.example", "+13125550101"),
            ("Dev Kumar", "dev@northwind.example", "+13125550102"),
        ],
    ),
    (
        "Globex Retail",
        "DE",
        "Europe/Berlin",
        "cloud-support",
        "platinum",
        BillingTerm.ANNUAL,
        [
            ("Greta Vogel", "greta@globex.example", "+4930555010"),
            ("Hans Richter", "hans@globex.example", ""),
        ],
    ),
    (
        "Initech Labs",
        "IN",
        "Asia/Kolkata",
        "cloud-support",
        "gold",
        BillingTerm.MONTHLY,
        [("Ila Rao", "ila@initech.example", "+919855501010")],
    ),
    (
        "Acme Wholesale",
        "US",
        "America/Los_Angeles",
        "b2b-customer-success",
        "customer-success",
        BillingTerm.ANNUAL,
        [("Ava Brooks", "ava@acme.example", "+14155550123")],
    ),
]


# hours ago, severity (index into the policy's scale), subject, minutes to first reply or None
DEMO_TICKETS: list[tuple[float, int, str, int | None]] = [
    (0.25, 0, "Production cluster unreachable", None),
    (3, 1, "Search latency doubled after upgrade", None),
    (26, 2, "How do we rotate the API keys?", None),
    (50, 2, "Question about snapshot retention", 45),
    (75, 1, "Ingest pipeline drops documents", 600),
]


class Command(BaseCommand):
    help = "Load both example policies and the demo data set (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for path in sorted(EXAMPLES.glob("*.toml")):
            try:
                version, created = policy_load(text=path.read_text(), source_name=path.name)
            except PolicyLoadError as exc:
                # An older database holds an earlier edit of the same dated version; a stored
                # version never changes, so the demo goes on with the one it has.
                self.stderr.write(f"{path.name}: kept the stored version: {exc}")
                continue
            state = "loaded" if created else "already loaded"
            self.stdout.write(f"policy {version.policy.key} {version.effective_date}: {state}")
        with transaction.atomic():
            staff = self._staff()
            self._admin()
        # Before the tickets: an URGENT one received after hours pages the on-call engineer.
        self._rotations(staff)
        for row in ORGANISATIONS:
            self._organisation(row, staff)
        # Globex Retail (Platinum, annual) has Dora as its Designated Support Engineer, with
        # check-ins, an environment profile and last month's report.
        globex = Organisation.objects.get(name="Globex Retail")
        with transaction.atomic():
            demo_engagement(organisation=globex, engineer=staff["dora"], now=timezone.now())
        demo_rhythm()
        self.stdout.write(self.style.SUCCESS("demo data ready; logins are in README.md"))

    def _rotations(self, staff: dict[str, StaffMember]) -> None:
        """Follow-the-sun on-call rotations, handing off on Mondays at 09:00 local time."""
        today = timezone.now().date()
        first_monday = date(today.year, 1, 1) + timedelta(
            days=(7 - date(today.year, 1, 1).weekday()) % 7
        )
        for name, region, zone, members in (
            ("US on call", "us", "America/Los_Angeles", ["alice", "cora", "eric"]),
            ("EU on call", "eu", "Europe/Paris", ["eric", "cora"]),
        ):
            if Rotation.objects.filter(name=name).exists():
                continue
            with transaction.atomic():
                rotation = Rotation.objects.create(
                    name=name,
                    region=region,
                    time_zone=zone,
                    handoff_weekday=0,
                    handoff_time=time(9, 0),
                    starts_on=first_monday,
                )
                for position, username in enumerate(members):
                    RotationMember.objects.create(
                        rotation=rotation, staff=staff[username], position=position
                    )

    def _admin(self) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@supporthub.example", DEMO_PASSWORD)

    def _staff(self) -> dict[str, StaffMember]:
        user_model = get_user_model()
        roles = {}
        for role in Role:
            roles[role], _ = StaffRole.objects.get_or_create(code=role)
        members = {}
        for username, name, member_roles, region, zone in STAFF:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@supporthub.example", "is_staff": True},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            member, _ = StaffMember.objects.get_or_create(
                user=user,
                defaults={"display_name": name, "region": region, "time_zone": zone},
            )
            member.roles.add(*(roles[r] for r in member_roles))
            members[username] = member
        return members

    def _organisation(
        self,
        row: tuple[str, str, str, str, str, BillingTerm, list[tuple[str, str, str]]],
        staff: dict[str, StaffMember],
    ) -> None:
        name, country, zone, policy_key, level, term, contacts = row
        if Organisation.objects.filter(name=name).exists():
            return
        user_model = get_user_model()
        today = timezone.now().date()
        with transaction.atomic():
            organisation = Organisation.objects.create(
                name=name,
                country=country,
                time_zone=zone,
                project_manager=staff["pat"],
                primary_staff_contact=staff["pat"],
            )
            customer_services.subscription_save(
                subscription=Subscription(
                    organisation=organisation,
                    policy=Policy.objects.get(key=policy_key),
                    level=level,
                    term_start=date(today.year - 1, 1, 1),
                    term_end=date(today.year + 2, 12, 31),
                    billing_term=term,
                    deployment=Deployment.CLOUD,
                )
            )
            customer_services.organisation_move_to_customer_success(
                organisation=organisation, account_manager=staff["amy"], actor=None
            )
            if name == "Globex Retail":
                # Someone of the customer who follows tickets but is not a Support Contact.
                OrganisationMember.objects.create(
                    organisation=organisation,
                    user=user_model.objects.create_user(
                        "gus", "gus@globex.example", DEMO_PASSWORD, first_name="Gus"
                    ),
                    name="Gus Weber",
                )
            for contact_name, email, phone in contacts:
                login = user_model.objects.create_user(email.split("@")[0], email, DEMO_PASSWORD)
                customer_services.support_contact_add(
                    organisation=organisation,
                    name=contact_name,
                    email=email,
                    phone=phone,
                    user=login,
                )
            self._tickets(organisation, staff)
            if policy_key == "b2b-customer-success":
                alice = viewer_for(staff["alice"].user)
                assert alice is not None  # noqa: S101 - created above with a staff record
                development_demo.demo_links(organisation=organisation, viewer=alice)

    def _tickets(self, organisation: Organisation, staff: dict[str, StaffMember]) -> None:
        """A few tickets received over the last days, some answered, so the clocks show."""
        requester = organisation.support_contacts.order_by("pk").first()
        now = timezone.now()
        entitlement = entitlement_on(organisation=organisation, on=local_date(organisation, now))
        if entitlement is None:
            return
        severities = [s.level for s in entitlement.policy.severities]
        for number, (hours_ago, severity_index, subject, answered_after) in enumerate(DEMO_TICKETS):
            severity = severities[min(severity_index, len(severities) - 1)]
            ticket = opening.ticket_open(
                request=TicketRequest(
                    organisation=organisation,
                    requester=requester,
                    subject=subject,
                    body=f"Demo ticket {number + 1} of {organisation.name}.",
                    severity=severity,
                    channel=Channel.HUB,
                    received_at=now - timedelta(hours=hours_ago),
                ),
            )
            if answered_after is not None:
                conversation.ticket_add_message(
                    ticket=ticket,
                    kind=MessageKind.PUBLIC_REPLY,
                    body="Thanks, we are looking into it.",
                    author_staff=staff["alice"],
                    at=ticket.received_at + timedelta(minutes=answered_after),
                )
            alice = viewer_for(staff["alice"].user)
            assert alice is not None  # noqa: S101 - created above with a staff record
            if number == 1:
                ticket_services.ticket_assign(ticket=ticket, assignee=staff["alice"], viewer=alice)
                ticket_services.ticket_reply(
                    ticket=ticket,
                    viewer=alice,
                    body="Latency started with the 8.15 upgrade; checking the slow log.",
                    internal=True,
                )
            if number == 4 and organisation.name == "Northwind Logistics":
                ticket_services.ticket_escalate(
                    ticket=ticket,
                    reason="Documents lost in production for three days; needs development.",
                    viewer=alice,
                )
