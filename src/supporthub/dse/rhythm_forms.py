"""The console's forms for the engagement's rhythm: a check-in held, an edit of the profile."""

from __future__ import annotations

from django import forms

from supporthub.dse.models import CheckInKind
from supporthub.dse.profile import PART_MAX_CHARS, ProfileInput
from supporthub.dse.rhythm import CheckInInput


class DateInput(forms.DateInput):
    """The browser's date picker, which reads and writes ISO dates whatever the locale."""

    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class CheckInForm(forms.Form):
    kind = forms.ChoiceField(choices=CheckInKind.choices, initial=CheckInKind.MONTHLY)
    milestone = forms.CharField(
        max_length=100,
        required=False,
        help_text="Milestone check-ins only: e.g. go-live, upgrade",
        widget=forms.TextInput(attrs={"list": "milestones"}),
    )
    date = forms.DateField(widget=DateInput, help_text="The day it was held")
    attendees = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Who took part, one per line or comma"
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    next_date = forms.DateField(
        widget=DateInput,
        required=False,
        label="Next check-in",
        help_text="The date agreed for the next one; you are reminded by mail when it comes",
    )

    def data_input(self) -> CheckInInput:
        data = self.cleaned_data
        return CheckInInput(
            kind=data["kind"],
            milestone=data["milestone"],
            date=data["date"],
            attendees=data["attendees"],
            notes=data["notes"],
            next_date=data["next_date"],
        )


def _part(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=PART_MAX_CHARS,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 5}),
        strip=False,
    )


class ProfileForm(forms.Form):
    deployments = _part("Deployments", "Clusters and deployments: where, what size, what for")
    versions = _part("Versions", "Product versions in use, per deployment")
    architecture = _part("Architecture", "How the pieces fit: ingest, clients, integrations")
    use_cases = _part("Use cases", "What the customer uses it for")
    summary = forms.CharField(
        max_length=300, required=False, help_text="What changed, in a line (shown in the history)"
    )
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def data_input(self) -> ProfileInput:
        data = self.cleaned_data
        return ProfileInput(
            deployments=data["deployments"],
            versions=data["versions"],
            architecture=data["architecture"],
            use_cases=data["use_cases"],
            summary=data["summary"],
        )
