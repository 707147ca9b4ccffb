"""The console's development forms: link by pasting an address, unlink with a reason."""

from __future__ import annotations

from django import forms


class LinkForm(forms.Form):
    url = forms.CharField(
        label="Issue or pull request address",
        max_length=500,
        widget=forms.URLInput(
            attrs={
                "placeholder": "https://github.com/owner/repo/issues/42 or https://site.atlassian.net/browse/KEY-7"
            }
        ),
    )


class UnlinkForm(forms.Form):
    reason = forms.CharField(label="Why unlink", max_length=1000)
