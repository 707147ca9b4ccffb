"""The admin shows policies and their versions, and lets no one edit them."""

from __future__ import annotations

import pytest
from django.test import Client

import supporthub.policies.admin  # noqa: F401 - registers the admin classes when not autodiscovered
from supporthub.policies.models import PolicyVersion
from supporthub.policies.services import policy_load
from supporthub.policies.tests.helpers import cloud_text

pytestmark = pytest.mark.django_db


def test_version_list_and_page_show_the_source_read_only(admin_client: Client) -> None:
    version, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    listing = admin_client.get("/admin/policies/policyversion/")
    assert listing.status_code == 200
    assert b"cloud-support.toml" in listing.content
    page = admin_client.get(f"/admin/policies/policyversion/{version.pk}/change/")
    assert page.status_code == 200
    assert b"policy load" in page.content
    assert b"Severity Level 1" in page.content
    assert b"<textarea" not in page.content
    assert b'name="_save"' not in page.content


def test_versions_cannot_be_added_changed_or_deleted(admin_client: Client) -> None:
    version, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    assert admin_client.get("/admin/policies/policyversion/add/").status_code == 403
    assert admin_client.get("/admin/policies/policy/add/").status_code == 403
    delete = f"/admin/policies/policyversion/{version.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert PolicyVersion.objects.filter(pk=version.pk).exists()


def test_policy_list_shows_key_name_and_version_count(admin_client: Client) -> None:
    version, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    listing = admin_client.get("/admin/policies/policy/")
    assert listing.status_code == 200
    assert b"cloud-support" in listing.content
    page = admin_client.get(f"/admin/policies/policy/{version.policy_id}/change/")
    assert page.status_code == 200
    assert b"cloud-support.toml" in page.content
