"""The claims the loopback provider sends about a person."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User


def userinfo(claims: dict[str, Any], user: User) -> dict[str, Any]:
    from supporthub.testing.idp import UNVERIFIED_GROUP

    claims["email"] = user.email
    claims["email_verified"] = not user.groups.filter(name=UNVERIFIED_GROUP).exists()
    claims["name"] = user.get_username()
    return claims
