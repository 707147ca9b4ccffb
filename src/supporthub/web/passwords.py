"""Password reset by mail and password change, on Django's own views and token generator.

The reset mail is an outbox row like every other mail (retried, shown in the back office),
its link built on PUBLIC_BASE_URL, never on the Host header a stranger sent. A link works
once (the token is bound to the password it resets and the last login) and for
PASSWORD_RESET_TIMEOUT seconds. The page says the same whether or not the address is known.

Changing the password checks the old one through ``authenticate()``, so a wrong old password
counts as a failed login and a signed-in session cannot guess it past the login throttle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse, reverse_lazy

from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's form, its mail written to the outbox; an address is matched to the login's
    own email or to the Support Contact that login belongs to."""

    def get_users(self, email: str) -> Iterable[User]:
        users = User.objects.filter(
            Q(email__iexact=email) | Q(support_contact__email__iexact=email), is_active=True
        ).distinct()
        return (user for user in users if user.has_usable_password())

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        user, token, uid = context["user"], context["token"], context["uid"]
        # A login without an address of its own was found by its Support Contact's.
        contact = getattr(user, "support_contact", None)
        recipient = to_email or (contact.email if contact is not None else "")
        if not recipient:
            return
        link = settings.PUBLIC_BASE_URL + reverse(
            "web:password_reset_confirm", kwargs={"uidb64": uid, "token": token}
        )
        outbox_enqueue(
            kind=OutboxKind.PASSWORD_RESET,
            dedupe_key=f"{OutboxKind.PASSWORD_RESET}:{user.pk}:{token}",
            recipient=recipient,
            subject="Reset your Support Hub password",
            template="web/password_reset_email",
            context={
                "username": user.get_username(),
                "link": link,
                "hours": link_hours(),
            },
        )


def link_hours() -> int:
    """How long a reset link works, in whole hours, as the pages and the mail say it."""
    return max(1, int(settings.PASSWORD_RESET_TIMEOUT) // 3600)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "web/password_reset.html"
    success_url = reverse_lazy("web:password_reset_done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "hours": link_hours()}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "hours": link_hours()}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web:password_reset_complete")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "hours": link_hours()}


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's form, the old password checked by ``authenticate()`` (the login throttle's
    way in) instead of ``check_password()``, which no throttle sees."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        found = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if found is None or found.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm
    template_name = "web/password_change.html"
    success_url = reverse_lazy("web:password_change_done")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}
