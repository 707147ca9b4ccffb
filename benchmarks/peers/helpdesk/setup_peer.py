"""Prepare the migrated django-helpdesk peer: a queue and a staff API user with a DRF token.

Run with the peer's virtualenv from this folder (DJANGO_SETTINGS_MODULE=hdbench.settings).
Prints one JSON line: {"queue": <id>, "token": "<key>", "email_templates": <count>}.
"""

from __future__ import annotations

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdbench.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from helpdesk.models import EmailTemplate, Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402


def main() -> None:
    if not EmailTemplate.objects.exists():  # install docs, step 8
        call_command("loaddata", "emailtemplate.json", verbosity=0)
    queue, _ = Queue.objects.get_or_create(
        slug="bench",
        defaults={"title": "Bench", "email_address": "support@bench.example"},
    )
    # The API's permission is DRF's IsAdminUser (is_staff); a superuser sees every queue.
    user, created = get_user_model().objects.get_or_create(
        username="bench-api",
        defaults={"email": "bench-api@bench.example", "is_staff": True, "is_superuser": True},
    )
    if created:
        user.set_unusable_password()
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    templates = EmailTemplate.objects.count()
    print(json.dumps({"queue": queue.pk, "token": token.key, "email_templates": templates}))


if __name__ == "__main__":
    main()
