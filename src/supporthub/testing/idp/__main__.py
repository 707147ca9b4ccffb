"""`python -m supporthub.testing.idp PORT REDIRECT_URI`: set the provider up, then serve it."""

from __future__ import annotations

import sys

import django
from django.core.management import call_command


def main(port: str, redirect_uri: str) -> None:
    django.setup()
    from django.contrib.auth.models import Group, User
    from oidc_provider.models import Client, ResponseType

    from supporthub.testing.idp import CLIENT_ID, CLIENT_SECRET, PASSWORD, PEOPLE, UNVERIFIED_GROUP

    call_command("migrate", verbosity=0, interactive=False)
    call_command("creatersakey")
    unverified = Group.objects.create(name=UNVERIFIED_GROUP)
    for person in PEOPLE:
        user = User.objects.create_user(person.username, person.email, PASSWORD)
        if not person.email_verified:
            user.groups.add(unverified)
    client = Client.objects.create(
        name="Support Hub",
        client_type="confidential",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        jwt_alg="RS256",
        require_consent=False,
        reuse_consent=True,
        _redirect_uris=redirect_uri,
    )
    client.response_types.add(ResponseType.objects.get(value="code"))
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, skip_checks=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
