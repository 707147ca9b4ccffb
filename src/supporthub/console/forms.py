"""The ticket page's action forms. Each carries the ticket version it was rendered from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from supporthub.policies import schema
from supporthub.staff.models import StaffMember
from supporthub.tickets.models import Status

VISIBILITY_CHOICES = [("public", "Public reply"), ("internal", "Internal note")]


class VersionedForm(forms.Form):
    """A change to a ticket as it was when the form was rendered (optimistic concurrency)."""

    key = "ticket"  # names the form's element ids, which must be unique on the ticket page
    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={"required": "The form has no ticket version; reload the ticket."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.key}_%s")
        super().__init__(*args, **kwargs)

    def refreshed(self, current_version: int) -> None:
        """After a conflict: keep what was typed, carry the current version, drop files."""
        data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
        data["version"] = str(current_version)
        self.data = data
        self.files = MultiValueDict()
        self._errors = None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files from one input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class ReplyForm(VersionedForm):
    key = "reply"
    body = forms.CharField(
        label="Message",
        widget=forms.Textarea(attrs={"rows": 6}),
        strip=False,
        error_messages={"required": "Write a message."},
    )
    visibility = forms.ChoiceField(
        label="Visibility",
        choices=VISIBILITY_CHOICES,
        widget=forms.RadioSelect,
        initial="public",
        error_messages={"required": "Choose a public reply or an internal note."},
    )
    attachments = MultipleFileField(label="Attachments", required=False)
    status = forms.ChoiceField(
        label="Then set status",
        choices=[("", "Leave as it is"), *Status.choices],
        required=False,
    )

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write a message.")
        return body


class AssignForm(VersionedForm):
    key = "assign"
    assignee = forms.ModelChoiceField(
        label="Assignee",
        queryset=StaffMember.objects.none(),
        required=False,
        empty_label="Unassigned",
    )

    def __init__(self, *args: Any, staff: QuerySet[StaffMember], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = staff


class SeverityForm(VersionedForm):
    key = "severity"
    severity = forms.TypedChoiceField(label="Severity", coerce=int)
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the severity changes."},
    )

    def __init__(self, *args: Any, policy: schema.Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["severity"]
        assert isinstance(field, forms.TypedChoiceField)  # noqa: S101 - declared above
        field.choices = [(s.level, s.name) for s in policy.severities]


class StatusForm(VersionedForm):
    key = "status"
    status = forms.ChoiceField(label="Status", choices=Status.choices)


class EscalateForm(VersionedForm):
    key = "escalate"
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why it needs the CS lead."},
    )


class OutOfScopeForm(VersionedForm):
    key = "out_of_scope"
    exclusion = forms.ChoiceField(
        label="Exclusion",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the policy's exclusion that applies.",
            "invalid_choice": "Choose one of the policy's exclusions.",
        },
    )
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Kept as an internal note on the ticket.",
    )

    def __init__(self, *args: Any, policy: schema.Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exclusions = policy.exclusions
        field = self.fields["exclusion"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        field.choices = [(e.key, e.name or e.key) for e in policy.exclusions]


class SlaReportForm(forms.Form):
    """The report's period in whole UTC months, e.g. 2026-06 to 2026-11 (both included)."""

    start = forms.CharField(label="From month", required=False, help_text="YYYY-MM")
    end = forms.CharField(label="To month", required=False, help_text="YYYY-MM")

    @staticmethod
    def default_period(now: datetime) -> tuple[datetime, datetime]:
        """The current month and the five before it."""
        first = datetime(now.year, now.month, 1, tzinfo=UTC)
        month = now.year * 12 + now.month - 1 - 5
        return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC), _next_month(first)

    def _month(self, field: str) -> datetime | None:
        raw = (self.cleaned_data.get(field) or "").strip()
        if not raw:
            return None
        try:
            year, month = (int(part) for part in raw.split("-"))
            return datetime(year, month, 1, tzinfo=UTC)
        except ValueError:
            self.add_error(field, f"{raw!r} is not a month; write it as YYYY-MM, e.g. 2026-11.")
            return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = self._month("start"), self._month("end")
        if start is not None and end is not None and end < start:
            self.add_error("end", "The period ends before it starts.")
        return data

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        default_start, default_end = self.default_period(now)
        start = self._month("start") or default_start
        end_month = self._month("end")
        return start, _next_month(end_month) if end_month else default_end


def _next_month(first: datetime) -> datetime:
    return datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)
