"""The maintained environment profile of a customer (deployments, versions, architecture,
use cases): every edit is a new version holding the whole profile, who changed it and when;
the history shows what each version changed, field by field, line by line."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import Organisation
from supporthub.dse.models import Engagement, EnvironmentProfile, EnvironmentProfileVersion
from supporthub.dse.rhythm import require_keeper

# The profile's parts, in the order pages show them: (field, label).
PARTS: tuple[tuple[str, str], ...] = (
    ("deployments", "Deployments"),
    ("versions", "Versions"),
    ("architecture", "Architecture"),
    ("use_cases", "Use cases"),
)
PART_MAX_CHARS = 20_000


@dataclass(frozen=True)
class ProfileInput:
    deployments: str
    versions: str
    architecture: str
    use_cases: str
    summary: str

    def part(self, name: str) -> str:
        return _normalised(str(getattr(self, name)))


def _normalised(text: str) -> str:
    """Line endings as LF and no trailing blanks, so an unchanged field compares equal."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def current_version(*, organisation: Organisation) -> EnvironmentProfileVersion | None:
    """The profile as it stands: its newest version (None before the first edit)."""
    return (
        EnvironmentProfileVersion.objects.filter(profile__organisation=organisation)
        .select_related("changed_by")
        .order_by("-number")
        .first()
    )


def profile_edit(
    *,
    engagement: Engagement,
    data: ProfileInput,
    based_on: int,
    viewer: Viewer,
    now: datetime | None = None,
) -> EnvironmentProfileVersion:
    """Save the profile as a new version. `based_on` is the version number the editor saw (0
    for none): an edit made on an older version is refused and changes nothing, as is an edit
    that changes nothing."""
    require_keeper(viewer, engagement, "edit the environment profile")
    now = now or timezone.now()
    organisation = engagement.organisation
    errors = {
        name: f"{label} is too long: at most {PART_MAX_CHARS:,} characters."
        for name, label in PARTS
        if len(data.part(name)) > PART_MAX_CHARS
    }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        profile, _ = EnvironmentProfile.objects.select_for_update().get_or_create(
            organisation=organisation, defaults={"created_at": now}
        )
        latest = profile.versions.order_by("-number").first()
        number = latest.number if latest is not None else 0
        if based_on != number:
            raise ValidationError(
                {
                    "based_on": f"The profile changed since you opened it (version {number} "
                    f"now, you edited version {based_on}); nothing was saved. Look at the "
                    "new version, then make your change again."
                }
            )
        parts = {name: data.part(name) for name, _ in PARTS}
        if latest is not None and all(getattr(latest, n) == v for n, v in parts.items()):
            raise ValidationError({"summary": "Nothing changed; no new version was saved."})
        if latest is None and not any(parts.values()):
            raise ValidationError({"deployments": "Describe at least one part of the profile."})
        version = EnvironmentProfileVersion(
            profile=profile,
            number=number + 1,
            summary=" ".join(data.summary.split())[:300],
            changed_by=viewer.user,
            changed_at=now,
            **parts,
        )
        version.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                version.save(force_insert=True)
        except IntegrityError:  # SQLite has no row lock: the unique number decides
            raise ValidationError(
                {"based_on": "Someone saved the profile at the same moment; nothing was saved."}
            ) from None
    return version


# -- history ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartChange:
    """One part's change in a version: the lines taken out and put in (difflib)."""

    label: str
    lines: tuple[tuple[str, str], ...]  # ("+" | "-" | " ", text)


@dataclass(frozen=True)
class VersionChange:
    version: EnvironmentProfileVersion
    changes: tuple[PartChange, ...]

    @property
    def who(self) -> str:
        user = self.version.changed_by
        if user is None:
            return "the system"
        staff = getattr(user, "staff_member", None)
        return staff.display_name if staff is not None else user.get_username()


def part_change(label: str, before: str, after: str) -> PartChange | None:
    if before == after:
        return None
    lines = tuple(
        (line[0], line[2:])
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line[:1] in "+- "
    )
    return PartChange(label=label, lines=lines)


def profile_history(*, organisation: Organisation) -> list[VersionChange]:
    """Every version, newest first, with what it changed against the one before."""
    versions = list(
        EnvironmentProfileVersion.objects.filter(profile__organisation=organisation)
        .select_related("changed_by__staff_member")
        .order_by("number")
    )
    history: list[VersionChange] = []
    previous: EnvironmentProfileVersion | None = None
    for version in versions:
        changes = []
        for name, label in PARTS:
            before = getattr(previous, name) if previous is not None else ""
            change = part_change(label, before, getattr(version, name))
            if change is not None:
                changes.append(change)
        history.append(VersionChange(version=version, changes=tuple(changes)))
        previous = version
    history.reverse()
    return history
