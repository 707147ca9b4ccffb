"""Single sign-on with OpenID Connect (mozilla-django-oidc): the backend and the two views.

A sign-in is matched by its verified email to a login an administrator gave, of an active
staff member or an active Support Contact; the library's user creation is refused, so
nobody gets a login or an organisation from the provider. Every refusal, and every failure
of the provider, ends on the login page with a message saying why.

The library reaches the provider with `requests`, its own transport, rather than through
supporthub.http: the token, key and userinfo calls are the library's protocol code, which
this module keeps instead of rewriting; they get SSO_TIMEOUT and TLS verification.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from supporthub.web import selectors

logger = logging.getLogger(__name__)


class SignInRefused(Exception):
    """The provider vouched for someone the Support Hub does not let in; says why."""


def _is_true(value: Any) -> bool:
    # Some providers send the claim as the string "true" rather than a JSON boolean.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """Matches an OpenID Connect sign-in to an existing login; never creates one."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Only the callback view calls with a nonce; a password login carries credentials.
        if not settings.SSO_ENABLED or request is None or "nonce" not in kwargs:
            return None
        user: User | None = super().authenticate(request, **kwargs)
        return user

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        # The library leaves the audience unchecked; an ID token (the call with a nonce)
        # must be addressed to this client (OpenID Connect Core 3.1.3.7).
        if "nonce" in kwargs:
            audience = payload.get("aud")
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or self.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation(f"the ID token is for another client (aud={audience!r})")
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        email = claims.get("email")
        if not isinstance(email, str) or not email.strip():
            raise SignInRefused(
                f"{settings.SSO_BUTTON_LABEL} did not tell us your email address, so we cannot "
                "tell who you are. Ask your administrator."
            )
        if not _is_true(claims.get("email_verified")):
            raise SignInRefused(
                f"{settings.SSO_BUTTON_LABEL} has not verified your email address {email}, so it "
                "cannot be matched to a Support Hub login. Verify it there, or log in with "
                "your password."
            )
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        users = selectors.logins_for_verified_email(claims["email"].strip())
        if len(users) > 1:
            raise SignInRefused(
                f"More than one Support Hub login has the address {claims['email']}; ask an "
                "administrator to sort it out, or log in with your password."
            )
        return users

    def create_user(self, claims: dict[str, Any]) -> User:
        raise SignInRefused(
            f"No active Support Hub login belongs to {claims['email']}: single sign-on only "
            "lets in the staff and Support Contacts an administrator has added. Ask your "
            "administrator, or your account manager, to add you."
        )

    def get_user(self, user_id: int) -> AbstractBaseUser | None:
        # Django's own check (an inactive login's session ends), which the library skips.
        return ModelBackend.get_user(self, user_id)


class SignInStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (state, nonce and PKCE kept in the session)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured.")
        response: HttpResponse = super().get(request)
        return response


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: signed in, or the login page and why."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured.")
        label = settings.SSO_BUTTON_LABEL
        try:
            response: HttpResponse = super().get(request)
        except SignInRefused as refusal:
            logger.info("single sign-on refused: %s", refusal)
            return self._back_to_login(str(refusal))
        except SuspiciousOperation as exc:
            logger.warning("single sign-on: %s", exc)
            return self._back_to_login(
                f"That sign-in with {label} was not started here or has expired. Try again."
            )
        except requests.RequestException as exc:
            logger.warning("single sign-on: the provider failed: %s", exc)
            return self._back_to_login(
                f"{label} did not complete the sign-in (it refused or did not answer). Try "
                "again in a moment, or log in with your password."
            )
        return response

    def login_failure(self) -> HttpResponse:
        if self.request.GET.get("error") == "access_denied":
            why = f"The sign-in was cancelled at {settings.SSO_BUTTON_LABEL}."
        else:
            why = f"The sign-in with {settings.SSO_BUTTON_LABEL} did not succeed. Try again."
        return self._back_to_login(why)

    def _back_to_login(self, message: str) -> HttpResponse:
        messages.error(self.request, message)
        return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL_FAILURE))
