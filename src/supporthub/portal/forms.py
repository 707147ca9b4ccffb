"""The Support Hub's forms: a new incident and a reply. They parse; the services decide."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import RegexValidator

from supporthub.portal.selectors import IncidentTerms
from supporthub.tickets.models import Ticket, TicketType
from supporthub.validators import ONE_LINE


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


class AttachmentsField(forms.FileField):
    """Any number of files (up to the per-message limit), each checked by name.

    The size limit is the one `attachment_add` enforces; checking it here as well means a
    bad file is refused before anything, including the other files, is written to disk.
    """

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, data: Any) -> list[UploadedFile]:  # type: ignore[override]
        if not data:
            return []
        files = list(data) if isinstance(data, list | tuple) else [data]
        return [f for f in files if isinstance(f, UploadedFile)]

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = self.to_python(data)
        limit = settings.ATTACHMENT_MAX_BYTES
        most = settings.ATTACHMENTS_PER_MESSAGE
        errors: list[ValidationError] = []
        if len(files) > most:
            errors.append(
                ValidationError(f"Attach at most {most} files at once ({len(files)} were chosen).")
            )
        for upload in files:
            name = Path(upload.name or "attachment").name or "attachment"
            size = upload.size or 0
            if size == 0:
                errors.append(ValidationError(f"{name} is empty."))
            elif size > limit:
                errors.append(
                    ValidationError(
                        f"{name} is {file_size(size)}; the limit is {file_size(limit)}."
                    )
                )
        if errors:
            raise ValidationError(errors)
        return files


class IncidentForm(forms.Form):
    """A new incident: the severities offered are the ones the Support Hub accepts now."""

    subject = forms.CharField(
        max_length=Ticket._meta.get_field("subject").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Write a subject."},
        validators=[RegexValidator(ONE_LINE, "Write the subject on one line.")],
    )
    body = forms.CharField(
        label="Description",
        error_messages={"required": "Describe the incident."},
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, what you expected, and what you have tried. Include "
        "deployment names, error messages and times.",
    )
    severity = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect)
    type = forms.ChoiceField(choices=TicketType.choices, initial=TicketType.INCIDENT)
    attachments = AttachmentsField()

    def __init__(self, *args: Any, terms: IncidentTerms, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terms = terms
        field = self.fields["severity"]
        assert isinstance(field, forms.TypedChoiceField)  # noqa: S101 - declared above
        field.choices = [(s.level, s.name) for s in terms.severities]
        field.error_messages["required"] = "Choose a severity."
        field.error_messages["invalid_choice"] = (
            "Choose one of the severities listed; the Support Hub does not accept that one."
        )
        self.initial.setdefault("severity", terms.default_severity)

    @property
    def uploads(self) -> Sequence[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        return files

    def selected_severity(self) -> int | None:
        """The severity the form shows as chosen (submitted, else the default)."""
        value = self["severity"].value()
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Write a message."},
    )
    attachments = AttachmentsField()

    @property
    def uploads(self) -> Sequence[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        return files
