"""Who is asking: a staff member, a customer of one organisation, or an integration token.

Every page and API operation turns its caller into a `Viewer` first; the ticket selectors
take a viewer and never return what it may not see.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from supporthub.customers.models import Organisation, OrganisationMember, SupportContact
from supporthub.staff.models import Role, StaffMember

# Staff roles that work every ticket; other staff see their organisations' and their own.
ALL_TICKETS_ROLES = (Role.SUPPORT_ENGINEER, Role.CS_LEAD)


@dataclass(frozen=True)
class Viewer:
    """The caller of a page or API operation, resolved once per request."""

    user: User | None
    staff: StaffMember | None = None
    contact: SupportContact | None = None  # active or retired
    member: OrganisationMember | None = None  # reads only
    organisation: Organisation | None = None  # set for every customer-side viewer
    token_id: int | None = None  # an API token's id, for idempotency keys

    @property
    def is_staff(self) -> bool:
        return self.staff is not None or (self.user is not None and self.user.is_superuser)

    @property
    def is_customer(self) -> bool:
        return self.organisation is not None

    @property
    def sees_all_tickets(self) -> bool:
        if self.user is not None and self.user.is_superuser:
            return True
        return self.staff is not None and any(self.staff.has_role(r) for r in ALL_TICKETS_ROLES)

    def has_role(self, role: Role) -> bool:
        return self.staff is not None and self.staff.has_role(role)

    @property
    def can_open_incidents(self) -> bool:
        """Only an active Support Contact opens incidents (an organisation token names one)."""
        if self.token_id is not None and self.organisation is not None:
            return True
        return self.contact is not None and self.contact.is_active

    @property
    def can_reply(self) -> bool:
        return self.is_staff or self.can_open_incidents

    def why_cannot_open(self) -> str:
        """The reason shown to a customer who may read but not open incidents."""
        if self.contact is not None and not self.contact.is_active:
            return (
                f"You are no longer a Support Contact of {self.contact.organisation.name}, so "
                "you can follow its tickets but not open incidents or reply. Ask one of its "
                "Support Contacts, or your account manager, to add you back."
            )
        if self.organisation is not None:
            return (
                f"Only the named Support Contacts of {self.organisation.name} can open "
                "incidents or reply; you can follow its tickets here. Ask one of its Support "
                "Contacts, or your account manager, if you need to raise something."
            )
        return "Only Support Contacts can open incidents."

    @property
    def time_zone(self) -> str:
        """The zone times are shown in: the person's own, else their organisation's."""
        if self.contact is not None and self.contact.time_zone:
            return self.contact.time_zone
        if self.member is not None and self.member.time_zone:
            return self.member.time_zone
        if self.staff is not None:
            return self.staff.time_zone
        if self.organisation is not None:
            return self.organisation.time_zone
        return "UTC"

    @property
    def caller_key(self) -> str:
        """Who owns an idempotency key: the token, else the login."""
        if self.token_id is not None:
            return f"token:{self.token_id}"
        return f"user:{self.user.pk if self.user is not None else 0}"


def viewer_for(user: AbstractBaseUser | AnonymousUser) -> Viewer | None:
    """The viewer for a logged-in user; None for anonymous users and logins with no role."""
    if not isinstance(user, User) or not user.is_active:
        return None
    staff = StaffMember.objects.filter(user=user, is_active=True).prefetch_related("roles").first()
    if staff is not None:
        return Viewer(user=user, staff=staff)
    if user.is_superuser:
        return Viewer(user=user)
    contact = SupportContact.objects.filter(user=user).select_related("organisation").first()
    if contact is not None:
        return Viewer(user=user, contact=contact, organisation=contact.organisation)
    member = OrganisationMember.objects.filter(user=user).select_related("organisation").first()
    if member is not None:
        return Viewer(user=user, member=member, organisation=member.organisation)
    return None
