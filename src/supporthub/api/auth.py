"""Who calls the API: an integration with a bearer token, or the pages' own logged-in session.

Each authenticator returns the request's `Viewer`, built once; ninja keeps it in
`request.auth` and `viewer_of(request)` hands it to the operation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from supporthub.access import Viewer, viewer_for
from supporthub.api.models import ApiToken
from supporthub.api.services import api_token_touch, token_hash


class BearerToken(HttpBearer):
    """`Authorization: Bearer sh_...`: an organisation's integration or a staff login's.

    `staff_only` refuses other callers with 403 before the request body is even read.
    """

    def __init__(self, *, staff_only: bool = False) -> None:
        super().__init__()
        self.staff_only = staff_only

    def authenticate(self, request: HttpRequest, token: str) -> Viewer:
        return _checked(token_viewer(token.strip()), staff_only=self.staff_only)


def _checked(viewer: Viewer, *, staff_only: bool) -> Viewer:
    if staff_only and not viewer.is_staff:
        raise HttpError(403, "Only staff can do this.")
    return viewer


def token_viewer(raw: str) -> Viewer:
    """The viewer a raw token acts as; 401 for unknown, revoked or orphaned tokens."""
    try:  # one statement: the token with its organisation or staff login
        token = ApiToken.objects.select_related("organisation", "staff_user").get(
            key_hash=token_hash(raw)
        )
    except ApiToken.DoesNotExist:
        raise AuthenticationError(message="Unknown API token.") from None
    if token.revoked_at is not None:
        raise AuthenticationError(
            message=f"API token {token.prefix}… was revoked on {token.revoked_at:%Y-%m-%d}."
        )
    if token.organisation is not None:
        viewer = Viewer(user=None, organisation=token.organisation, token_id=token.pk)
    else:
        staff = viewer_for(token.staff_user) if token.staff_user is not None else None
        if staff is None or not staff.is_staff:
            raise AuthenticationError(
                message=f"API token {token.prefix}… belongs to a login that is no longer staff."
            )
        viewer = dataclasses.replace(staff, token_id=token.pk)
    api_token_touch(token=token)
    return viewer


class Session(SessionAuth):
    """The Support Hub and console pages calling their own API with the browser's session.

    Unsafe methods need the CSRF token (X-CSRFToken header), as for any form; a request with
    no session at all is a plain 401, not a CSRF failure.
    """

    def __init__(self, *, csrf: bool = True, staff_only: bool = False) -> None:
        super().__init__(csrf=csrf)
        self.staff_only = staff_only

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Viewer | None:
        if not request.user.is_authenticated:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if self.csrf and not exempt and check_csrf(request) is not None:
            raise HttpError(
                403,
                "CSRF check failed: a logged-in session must send the X-CSRFToken header "
                "(the csrftoken cookie's value) with unsafe methods.",
            )
        viewer = viewer_for(request.user)
        if viewer is None:
            raise HttpError(403, "This login has no Support Hub role.")
        return _checked(viewer, staff_only=self.staff_only)


def viewer_of(request: HttpRequest) -> Viewer:
    """The viewer an authenticator put on the request."""
    viewer: Any = getattr(request, "auth", None)
    if not isinstance(viewer, Viewer):  # every operation is authenticated; never reached
        raise AuthenticationError()
    return viewer
