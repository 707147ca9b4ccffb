"""Storing policy versions, choosing the one in force, and parsing each text once."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.policies import models, schema
from supporthub.policies.loader import load_policy
from supporthub.policies.models import Policy, PolicyVersion
from supporthub.policies.selectors import (
    PolicyNotInForce,
    latest_policy_versions,
    policy_version_in_force,
    policy_version_number,
)
from supporthub.policies.services import PolicyLoadError, policy_load
from supporthub.policies.tests.helpers import b2b_text, cloud_text, edit

pytestmark = pytest.mark.django_db


def dated(effective: str, *, name: str | None = None) -> str:
    """The cloud policy moved to another effective date (and optionally renamed)."""
    text = edit(cloud_text(), "effective_date = 2024-06-11", f"effective_date = {effective}")
    if name is not None:
        text = edit(
            text,
            'name = "Elasticsearch Service Support Services Policy"',
            f'name = "{name}"',
        )
    return text


def test_first_load_creates_the_policy_and_its_first_version() -> None:
    version, created = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    assert created
    assert version.policy.key == "cloud-support"
    assert version.policy.name == "Elasticsearch Service Support Services Policy"
    assert version.effective_date == date(2024, 6, 11)
    assert version.source_text == cloud_text()
    assert len(version.sha256) == 64
    assert policy_version_number(version=version) == 1
    assert str(version) == "cloud-support effective 2024-06-11"


def test_loading_the_same_file_twice_is_a_no_op() -> None:
    first, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    again, created = policy_load(text=cloud_text(), source_name="renamed.toml")
    assert not created
    assert again.pk == first.pk
    assert PolicyVersion.objects.count() == 1


def test_same_date_with_different_content_is_refused() -> None:
    policy_load(text=cloud_text(), source_name="cloud-support.toml")
    changed = edit(cloud_text(), "monthly_hours = 25", "monthly_hours = 30")
    with pytest.raises(
        PolicyLoadError, match="already has a different version effective 2024-06-11"
    ):
        policy_load(text=changed, source_name="cloud-support.toml")
    assert PolicyVersion.objects.count() == 1


def test_earlier_effective_date_is_refused_naming_both_dates() -> None:
    policy_load(text=dated("2025-01-01"), source_name="cloud-support.toml")
    with pytest.raises(PolicyLoadError) as exc:
        policy_load(text=dated("2024-12-31"), source_name="cloud-support.toml")
    assert "2024-12-31" in str(exc.value) and "2025-01-01" in str(exc.value)
    assert exc.value.errors == []
    assert PolicyVersion.objects.count() == 1


def test_later_version_is_stored_the_older_stays_and_the_name_follows() -> None:
    policy_load(text=cloud_text(), source_name="cloud-support.toml")
    version, created = policy_load(
        text=dated("2025-03-01", name="Cloud Support v2"), source_name="v2.toml"
    )
    assert created
    assert policy_version_number(version=version) == 2
    assert Policy.objects.get(key="cloud-support").name == "Cloud Support v2"
    assert list(
        PolicyVersion.objects.order_by("effective_date").values_list("effective_date", flat=True)
    ) == [date(2024, 6, 11), date(2025, 3, 1)]


def test_invalid_file_is_refused_with_every_error() -> None:
    broken = edit(cloud_text(), "support_contacts = 6", "support_contacts = -6")
    broken = edit(broken, 'zone = "customer"', 'zone = "Nowhere/City"')
    with pytest.raises(PolicyLoadError) as exc:
        policy_load(text=broken, source_name="broken.toml")
    assert str(exc.value) == "broken.toml is not a valid policy (2 errors)"
    assert [issue.file for issue in exc.value.errors] == ["broken.toml", "broken.toml"]
    assert not Policy.objects.exists()


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2024, 6, 11), date(2024, 6, 11)),
        (date(2025, 2, 28), date(2024, 6, 11)),
        (date(2025, 3, 1), date(2025, 3, 1)),
        (date(2030, 1, 1), date(2025, 3, 1)),
    ],
)
def test_version_in_force_is_the_latest_on_or_before_the_date(on: date, expected: date) -> None:
    policy_load(text=cloud_text(), source_name="cloud-support.toml")
    policy_load(text=dated("2025-03-01"), source_name="cloud-support.toml")
    assert policy_version_in_force(policy_key="cloud-support", on=on).effective_date == expected


def test_no_version_in_force_before_the_first_says_when_it_starts() -> None:
    policy_load(text=cloud_text(), source_name="cloud-support.toml")
    with pytest.raises(PolicyNotInForce, match="first version takes effect on 2024-06-11"):
        policy_version_in_force(policy_key="cloud-support", on=date(2024, 6, 10))


def test_unknown_policy_is_not_in_force() -> None:
    with pytest.raises(PolicyNotInForce, match='no policy "nope" is loaded'):
        policy_version_in_force(policy_key="nope", on=date(2025, 1, 1))


def test_latest_policy_versions_gives_one_per_policy_in_one_query() -> None:
    policy_load(text=cloud_text(), source_name="cloud-support.toml")
    policy_load(text=dated("2025-03-01"), source_name="cloud-support.toml")
    policy_load(text=b2b_text(), source_name="b2b-customer-success.toml")
    with CaptureQueriesContext(connection) as queries:
        latest = latest_policy_versions()
        keys = [(v.policy.key, v.effective_date) for v in latest]
    assert len(queries) == 1
    assert keys == [
        ("b2b-customer-success", date(2024, 1, 1)),
        ("cloud-support", date(2025, 3, 1)),
    ]


def test_document_is_parsed_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    version, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    models._DOCUMENTS.clear()
    calls: list[str] = []

    def counting(text: str, filename: str) -> schema.Policy:
        calls.append(filename)
        return load_policy(text, filename)

    monkeypatch.setattr(models, "load_policy", counting)
    first = PolicyVersion.objects.get(pk=version.pk).document()
    second = PolicyVersion.objects.get(pk=version.pk).document()
    assert first is second
    assert calls == ["cloud-support.toml"]
    assert first.key == "cloud-support" and first.source == "cloud-support.toml"


def test_document_refuses_text_that_does_not_match_its_sha256() -> None:
    version, _ = policy_load(text=cloud_text(), source_name="cloud-support.toml")
    models._DOCUMENTS.clear()
    PolicyVersion.objects.filter(pk=version.pk).update(source_text=cloud_text() + "\n# edited")
    with pytest.raises(ValueError, match="does not match its sha256"):
        PolicyVersion.objects.get(pk=version.pk).document()
