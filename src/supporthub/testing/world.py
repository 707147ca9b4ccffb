"""The named people of the test suite."""

from __future__ import annotations

from dataclasses import dataclass

from supporthub.access import Viewer, viewer_for
from supporthub.customers.models import Organisation, OrganisationMember, SupportContact
from supporthub.staff.models import Role, StaffMember
from supporthub.testing import factories as f


@dataclass
class World:
    organisation: Organisation  # Initech: Gold -> Base, America/New_York
    other_organisation: Organisation  # Globex: Platinum -> Enhanced, Europe/Berlin
    carol: SupportContact  # a Support Contact of Initech
    olga: SupportContact  # a Support Contact of Globex
    alice: StaffMember  # a support engineer
    amy: StaffMember  # Initech's CS account manager
    lee: StaffMember  # the CS lead


def make_world() -> World:
    alice = f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])
    amy = f.staff(user__username="amy", role_codes=[Role.CS_ACCOUNT_MANAGER])
    lee = f.staff(user__username="lee", role_codes=[Role.CS_LEAD])
    organisation = f.organisation(name="Initech", account_manager=amy)
    other = f.organisation(name="Globex", time_zone="Europe/Berlin", country="DE")
    f.subscribe(organisation, level="gold")
    f.subscribe(other, level="platinum")
    carol = f.add_contact(organisation, "Carol", user=f.user(username="carol"))
    olga = f.add_contact(other, "Olga", user=f.user(username="olga"))
    return World(organisation, other, carol, olga, alice, amy, lee)


def viewer_of(person: SupportContact | StaffMember | OrganisationMember) -> Viewer:
    """The viewer a named person's login resolves to, as a page or API request would."""
    if person.user is None:
        raise ValueError(f"{person} has no login")
    viewer = viewer_for(person.user)
    if viewer is None:
        raise ValueError(f"{person}'s login has no Support Hub role")
    return viewer
