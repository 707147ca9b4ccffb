"""Forms of the console's engagement page and the case's time entry."""

from __future__ import annotations

from typing import Any

from django import forms

from supporthub.staff.models import StaffMember


class TimeEntryForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=24 * 60, label="Minutes")
    date = forms.DateField(
        required=False,
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The day of the work, in the organisation's time zone (blank: today)",
    )
    note = forms.CharField(max_length=500, required=False, label="Note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "time_%s")
        super().__init__(*args, **kwargs)


class SubstitutionForm(forms.Form):
    engineer = forms.ModelChoiceField(
        queryset=StaffMember.objects.filter(is_active=True), label="New engineer"
    )
    reason = forms.CharField(max_length=500, label="Why")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "substitute_%s")
        super().__init__(*args, **kwargs)
