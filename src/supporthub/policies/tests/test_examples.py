"""The two shipped policies load cleanly and say what their seeds say."""

from __future__ import annotations

from datetime import date

from supporthub.policies import schema
from supporthub.policies.loader import load_policy
from supporthub.policies.tests.helpers import B2B, CLOUD, b2b_text, cloud_text


def cloud() -> schema.Policy:
    return load_policy(cloud_text(), CLOUD.name)


def b2b() -> schema.Policy:
    return load_policy(b2b_text(), B2B.name)


def test_cloud_support_maps_subscription_levels_to_support_levels() -> None:
    policy = cloud()
    assert policy.key == "cloud-support"
    assert policy.effective_date == date(2024, 6, 11)
    assert {key: sub.support_level for key, sub in policy.subscription_levels.items()} == {
        "gold": "base",
        "platinum": "enhanced",
        "enterprise": "premium",
        "private": "premium",
    }
    assert policy.support_level_for("private").name == "Premium"


def test_cloud_support_targets_are_the_seed_table() -> None:
    policy = cloud()
    table = {
        level: {sev: target.describe() if target else None for sev, target in row.items()}
        for level, row in ((k, v.targets) for k, v in policy.support_levels.items())
    }
    assert table == {
        "premium": {1: "30 minutes", 2: "4 hours", 3: "1 business day"},
        "enhanced": {1: "1 hour", 2: "4 hours", 3: "1 business day"},
        "base": {1: "4 business hours", 2: "1 business day", 3: "2 business days"},
    }
    assert policy.target("base", 3) == schema.Target(2, "business_days")


def test_cloud_support_hours_contacts_and_incidents() -> None:
    levels = cloud().support_levels
    assert levels["premium"].hours.always and levels["enhanced"].hours.always
    base = levels["base"].hours
    assert not base.always
    assert base.windows == (schema.Window("08:00", "18:00"),)
    assert base.weekdays == (0, 1, 2, 3, 4)
    assert base.zone is None and base.zone_of == "customer"
    assert [lv.support_contacts for lv in levels.values()] == [8, 8, 6]
    assert all(lv.annual_incidents is None for lv in levels.values())
    assert all(lv.methods == ("email", "phone", "hub") for lv in levels.values())


def test_cloud_support_severities_channels_and_default() -> None:
    policy = cloud()
    assert [s.level for s in policy.severities] == [1, 2, 3]
    assert policy.severity(3).description.startswith("This is the default severity level.")
    assert policy.default_severity == 3
    assert policy.channels["hub"].allowed_severities == (1, 2, 3)
    email = policy.channels["email"]
    assert email.allowed_severities == (3,) and email.forced_severity == 3
    assert "Support Hub" in email.message
    assert policy.holiday_country == "US" and policy.holiday_subdivision is None


def test_cloud_support_exclusions_have_stable_keys() -> None:
    keys = [exclusion.key for exclusion in cloud().exclusions]
    assert keys == [
        "customer_modification",
        "negligence_or_misuse",
        "third_party_software",
        "security_incident_investigation",
        "documentation_not_followed",
        "customer_applications",
        "unsupported_interfaces",
        "training",
    ]


def test_cloud_support_dse_terms() -> None:
    dse = cloud().dse
    assert dse is not None
    assert dse.skus == (
        "Support: Designated Support Engineer",
        "US PubSec Commercial: Designated Support Engineer",
    )
    assert dse.subscription_levels == ("platinum", "enterprise")
    assert dse.billing_terms == ("annual", "multi_year")
    assert (dse.min_term_months, dse.max_term_months) == (9, 36)
    assert dse.monthly_hours == 25
    assert dse.administrative_days_per_year == 16
    assert not dse.auto_renew and not dse.unused_hours_carry_over
    hours = dse.available_hours
    assert hours.windows == (schema.Window("09:00", "17:00"),)
    assert hours.zone is None and hours.zone_of == "engineer"
    assert (
        hours.describe()
        == "09:00-17:00 on Business Days (Mon, Tue, Wed, Thu, Fri) (engineer's time zone)"
    )


def test_b2b_states_no_target_for_any_priority() -> None:
    policy = b2b()
    level = policy.support_level_for("customer-success")
    assert level.targets == {1: None, 2: None, 3: None, 4: None}
    assert policy.target("customer-success", 1) is None


def test_b2b_priorities_regions_phone_and_after_hours() -> None:
    policy = b2b()
    assert [s.name for s in policy.severities] == ["URGENT", "HIGH", "MEDIUM", "LOW"]
    assert [(r.key, r.hours.zone, r.holiday_country) for r in policy.regions] == [
        ("us", "America/Los_Angeles", "US"),
        ("eu", "Europe/Paris", "FR"),
    ]
    assert all(r.hours.windows == (schema.Window("09:00", "17:00"),) for r in policy.regions)
    assert policy.phone_number == "1-888-585-5574"
    assert policy.phone_hours is not None and policy.phone_hours.zone == "America/Los_Angeles"
    assert policy.voicemail_creates_tickets
    assert policy.after_hours == (schema.AfterHoursRule((1,), ("on_call", "cs_lead")),)
    assert policy.support_level_for("customer-success").support_contacts is None


def test_b2b_channels_restrict_no_priority() -> None:
    channels = b2b().channels
    assert set(channels) == {"hub", "email", "phone", "voicemail"}
    assert all(rule.allowed_severities == (1, 2, 3, 4) for rule in channels.values())
    assert all(rule.forced_severity is None for rule in channels.values())


def test_b2b_enhancements_training_and_development() -> None:
    policy = b2b()
    project, nice = policy.enhancement_routes
    assert project.route_to == ("project_manager",) and project.occasionally == ("sales_rep",)
    assert project.engaged_by == "cs_account_manager"
    assert any("Collections Builder" in example for example in project.examples)
    assert nice.route_to == ("enhancement_committee",) and nice.customer_sees_decision
    assert [option.key for option in policy.training] == ["self_help", "assisted"]
    assert policy.training[1].route_to == ("cs_account_manager",)
    assert policy.development == schema.DevelopmentTickets(True, True)


def test_summaries_are_one_readable_line() -> None:
    assert cloud().summary() == (
        "Elasticsearch Service Support Services Policy (cloud-support), effective 2024-06-11: "
        "4 subscription levels on 3 support levels (Premium, Enhanced, Base); 3 severities "
        "(Severity Level 1, Severity Level 2, Severity Level 3); holidays US; "
        "Designated Support Engineer add-on"
    )
    summary = b2b().summary()
    assert "\n" not in summary
    assert "1 subscription level on 1 support level (Customer Success)" in summary
    assert "no response targets" in summary and "2 regions (US, EU)" in summary


def test_policy_roles_are_staff_roles_or_the_on_call_rotation() -> None:
    from supporthub.staff.models import Role

    assert set(schema.STAFF_ROLES) == {role.value for role in Role} | {"on_call"}
