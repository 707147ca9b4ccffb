"""Who calls the API: an integration with a bearer token, or the pages' own logged-in session.

Each authenticator returns the request's `Viewer`, built once; ninja keeps it in
`request.auth` and `viewer_of(request)` hands it to the operation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from supporthub import rows
from supporthub.access import Viewer, viewer_for
from supporthub.api.models import ApiToken
from supporthub.api.services import api_token_touch, token_hash
from supporthub.customers.selectors import organisation_from_row, organisation_sql


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


# The token of every API request, written as SQL (see supporthub.rows): with its
# organisation (the customers app's fragment) or its staff login, in one statement. Names
# come from the models' _meta; the hash is a parameter.
_TOKEN_READ = tuple(field.attname for field in ApiToken._meta.concrete_fields)
_STAFF_USER = get_user_model()  # ApiToken.staff_user's model
_USER_READ = tuple(field.attname for field in _STAFF_USER._meta.concrete_fields)
_ORGANISATION = organisation_sql(organisation_id=f't."{rows.column(ApiToken, "organisation_id")}"')
_TOKEN_SQL = (
    f"SELECT {rows.columns(ApiToken, _TOKEN_READ, alias='t')}, {_ORGANISATION.select}, "  # noqa: S608
    f"{rows.columns(_STAFF_USER, _USER_READ, alias='u')} FROM {rows.table(ApiToken)} t "
    f"{_ORGANISATION.joins} LEFT JOIN {rows.table(_STAFF_USER)} u "
    f'ON u."{rows.column(_STAFF_USER, "id")}" = t."{rows.column(ApiToken, "staff_user_id")}" '
    f'WHERE t."{rows.column(ApiToken, "key_hash")}" = %s'
)


def api_token_with_owner(raw: str) -> ApiToken | None:
    """The token with this raw value, its organisation or staff login in hand; one statement."""
    row, db = rows.fetch_one(ApiToken, _TOKEN_SQL, [token_hash(raw)])
    if row is None:
        return None
    width = len(_TOKEN_READ)
    token = rows.instance(ApiToken, _TOKEN_READ, row[:width], db)
    token.organisation = organisation_from_row(row[width : width + _ORGANISATION.width], db=db)
    user = row[width + _ORGANISATION.width :]
    token.staff_user = None if user[0] is None else rows.instance(_STAFF_USER, _USER_READ, user, db)
    return token


def token_viewer(raw: str) -> Viewer:
    """The viewer a raw token acts as; 401 for unknown, revoked or orphaned tokens."""
    token = api_token_with_owner(raw)
    if token is None:
        raise AuthenticationError(message="Unknown API token.")
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
