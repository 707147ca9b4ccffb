"""The triage page's two forms: match a voicemail to a Support Contact, or dismiss it."""

from __future__ import annotations

from django import forms

from supporthub.customers.models import SupportContact
from supporthub.customers.selectors import active_contacts_with_email


class MatchForm(forms.Form):
    email = forms.EmailField(
        label="Support Contact's email",
        help_text="The caller, as a Support Contact: their ticket opens under their policy.",
    )
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.TextInput())

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"]
        found = active_contacts_with_email(email)
        if not found:
            raise forms.ValidationError(f"No active Support Contact has the email {email}.")
        if len(found) > 1:
            names = ", ".join(c.organisation.name for c in found)
            raise forms.ValidationError(
                f"{email} is a Support Contact of several organisations ({names}); "
                "open the ticket from the back office instead."
            )
        self.contact: SupportContact = found[0]
        return email


class DismissForm(forms.Form):
    note = forms.CharField(
        label="Why no ticket",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. wrong number; called back"}),
    )
