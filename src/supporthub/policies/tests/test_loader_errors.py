"""Every kind of mistake in a policy file is reported, in plain words, at its line."""

from __future__ import annotations

import pytest

from supporthub.policies.loader import PolicyIssue, load_policy
from supporthub.policies.tests.helpers import (
    b2b_text,
    cloud_text,
    edit,
    issues,
    line_of,
    only_issue,
)


def test_issue_prints_as_file_line_message() -> None:
    assert str(PolicyIssue("p.toml", 7, "bad")) == "p.toml:7: bad"


def test_toml_syntax_error_reports_tomllib_line() -> None:
    text = edit(cloud_text(), 'name = "Gold"', 'name = "Gold')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'name = "Gold')
    assert issue.message.startswith("TOML syntax error: ")


def test_duplicate_toml_key_is_a_syntax_error_at_its_line() -> None:
    text = edit(cloud_text(), 'name = "Gold"\n', 'name = "Gold"\nname = "Or"\n')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'name = "Or"')


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    text = edit(cloud_text(), "support_contacts = 6", "suport_contacts = 6")
    found = issues(text)
    unknown = [i for i in found if "unknown key" in i.message]
    assert len(unknown) == 1
    assert unknown[0].line == line_of(text, "suport_contacts = 6")
    assert unknown[0].message.startswith("support_levels.base.suport_contacts: unknown key")
    assert 'did you mean "support_contacts"?' in unknown[0].message


def test_missing_key_points_at_its_table_header() -> None:
    text = edit(cloud_text(), 'name = "Platinum"\n', "")
    issue = only_issue(text)
    assert issue.line == line_of(text, "[subscription_levels.platinum]")
    assert issue.message == 'subscription_levels.platinum: missing key "name"'


def test_missing_policy_table_is_reported_at_line_1() -> None:
    text = edit(cloud_text(), "[policy]\n", "[policy_]\n")
    found = issues(text)
    assert any(i.line == 1 and i.message == "missing table [policy]" for i in found)


def test_wrong_type_names_expected_and_found() -> None:
    text = edit(cloud_text(), "support_contacts = 6", 'support_contacts = "six"')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'support_contacts = "six"')
    assert issue.message == (
        'support_levels.base.support_contacts: expected a whole number or "unlimited", '
        'got a string ("six")'
    )


def test_unknown_level_in_targets_names_the_line() -> None:
    text = edit(cloud_text(), "base = { 1 =", "bse = { 1 =")
    found = issues(text)
    assert (
        PolicyIssue(
            "policy.toml",
            line_of(text, "bse = { 1 ="),
            'targets.bse: unknown support level "bse" (known: premium, enhanced, base)',
        )
        in found
    )
    assert any('missing targets for support level "base"' in i.message for i in found)


def test_unknown_support_level_in_subscription_map_names_the_line() -> None:
    text = edit(cloud_text(), 'support_level = "enhanced"', 'support_level = "enhancd"')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'support_level = "enhancd"')
    assert issue.message == (
        'subscription_levels.platinum.support_level: unknown support level "enhancd" '
        "(known: premium, enhanced, base)"
    )


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            '2 = "4 hours", 3 = "1 business day" }\nbase',
            '2 = "4 hours", 4 = "1 business day" }\nbase',
            "targets.enhanced.4",
        ),
        (
            "allowed_severities = [1, 2, 3]",
            "allowed_severities = [1, 2, 5]",
            "channels.hub.allowed_severities[2]",
        ),
        ("forced_severity = 3", "forced_severity = 0", "channels.email.forced_severity"),
        ("default_severity = 3", "default_severity = 9", "policy.default_severity"),
    ],
)
def test_unknown_severity_is_reported_where_it_is_used(old: str, new: str, where: str) -> None:
    text = edit(cloud_text(), old, new)
    found = issues(text)
    mine = [i for i in found if i.message.startswith(f"{where}: unknown severity")]
    assert mine, "\n".join(map(str, found))
    assert mine[0].line == line_of(text, new.splitlines()[0])
    assert "(known: 1, 2, 3)" in mine[0].message


def test_unknown_severity_in_after_hours_rule_names_the_line() -> None:
    text = edit(b2b_text(), "severities = [1]", "severities = [7]")
    issue = only_issue(text)
    assert issue.line == line_of(text, "severities = [7]")
    assert issue.message == "after_hours[0].severities[0]: unknown severity 7 (known: 1, 2, 3, 4)"


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_zero_or_negative_target_amount_is_refused(amount: str) -> None:
    text = edit(cloud_text(), '1 = "30 minutes"', f'1 = "{amount} minutes"')
    issue = only_issue(text)
    assert issue.line == line_of(text, f'1 = "{amount} minutes"')
    assert issue.message == f'targets.premium.1: "{amount} minutes": the amount must be positive'


def test_unknown_target_unit_is_refused_listing_the_known_units() -> None:
    text = edit(cloud_text(), '1 = "4 business hours"', '1 = "4 fortnights"')
    issue = only_issue(text)
    assert issue.line == line_of(text, '1 = "4 fortnights"')
    assert issue.message == (
        'targets.base.1: unknown unit "fortnights" in "4 fortnights" '
        "(known: business days, business hours, hours, minutes)"
    )


def test_target_that_is_not_amount_and_unit_is_refused() -> None:
    issue = only_issue(edit(cloud_text(), '1 = "30 minutes"', '1 = "half an hour"'))
    assert 'targets.premium.1: "half an hour" is not a target' in issue.message


def test_elapsed_hours_on_a_business_hours_level_are_refused() -> None:
    text = edit(cloud_text(), '1 = "4 business hours"', '1 = "4 hours"')
    issue = only_issue(text)
    assert issue.message.startswith('targets.base.1: "4 hours" is elapsed time')


def test_severity_missing_from_a_targets_row_asks_for_an_explicit_none() -> None:
    text = edit(cloud_text(), ', 3 = "2 business days" }', " }")
    issue = only_issue(text)
    assert issue.line == line_of(text, "base = { 1 =")
    assert issue.message == (
        'targets.base: no target for severity 3 (write 3 = "none" if the policy states none)'
    )


def test_no_target_loads_as_none() -> None:
    text = edit(cloud_text(), '3 = "2 business days"', '3 = "none"')
    assert load_policy(text, "p.toml").target("base", 3) is None


def test_unknown_time_zone_names_the_line() -> None:
    text = edit(b2b_text(), 'zone = "Europe/Paris"', 'zone = "Europe/Pari"')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'zone = "Europe/Pari"')
    assert issue.message == (
        'regions.eu.hours.zone: unknown time zone "Europe/Pari" (expected an IANA name such '
        'as Europe/Paris, did you mean "Europe/Paris"?)'
    )


def test_relative_zone_is_refused_where_it_means_nothing() -> None:
    text = edit(b2b_text(), 'zone = "Europe/Paris"', 'zone = "customer"')
    issue = only_issue(text)
    assert issue.message == (
        'regions.eu.hours.zone: "customer" is not allowed here: write an IANA zone name'
    )


def test_unknown_holiday_country_names_the_line() -> None:
    text = edit(b2b_text(), 'holiday_country = "FR"', 'holiday_country = "XX"')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'holiday_country = "XX"')
    assert issue.message.startswith('regions.eu.holiday_country: unknown holiday country "XX"')


def test_unknown_holiday_subdivision_lists_the_known_ones() -> None:
    text = edit(
        cloud_text(),
        'holiday_country = "US"\n',
        'holiday_country = "US"\nholiday_subdivision = "ZZ"\n',
    )
    issue = only_issue(text)
    assert issue.line == line_of(text, 'holiday_subdivision = "ZZ"')
    assert issue.message.startswith(
        'policy.holiday_subdivision: unknown holiday subdivision "ZZ" of US (known: AK, AL,'
    )


def test_known_holiday_subdivision_is_kept() -> None:
    text = edit(
        cloud_text(),
        'holiday_country = "US"\n',
        'holiday_country = "US"\nholiday_subdivision = "CA"\n',
    )
    assert load_policy(text, "p.toml").holiday_subdivision == "CA"


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ("8:00-18:00", '"8:00" is not HH:MM'),
        ("08:00-18:60", '"18:60" is not a time of day'),
        ("24:00-18:00", "24:00 can only end a window"),
        ("08:00-24:30", '"24:30" is not a time of day'),
        ("08:00", '"" is not HH:MM'),
    ],
)
def test_malformed_window_is_refused(window: str, reason: str) -> None:
    text = edit(cloud_text(), 'windows = ["08:00-18:00"]', f'windows = ["{window}"]')
    issue = only_issue(text)
    assert issue.line == line_of(text, f'windows = ["{window}"]')
    assert issue.message == (
        f'support_levels.base.hours.windows[0]: "{window}" is not a window "HH:MM-HH:MM" '
        f"on a 24-hour clock ({reason})"
    )


def test_window_must_end_after_it_starts() -> None:
    issue = only_issue(edit(cloud_text(), '"08:00-18:00"', '"18:00-08:00"'))
    assert issue.message == (
        'support_levels.base.hours.windows[0]: "18:00-08:00": the window must end after it starts'
    )


def test_overlapping_windows_are_refused() -> None:
    issue = only_issue(edit(cloud_text(), '"08:00-18:00"', '"08:00-12:00", "11:00-18:00"'))
    assert issue.message == (
        "support_levels.base.hours.windows: windows 08:00-12:00 and 11:00-18:00 overlap"
    )


def test_window_may_end_at_24_00_and_touch_the_next() -> None:
    text = edit(cloud_text(), '"08:00-18:00"', '"00:00-08:00", "08:00-24:00"')
    hours = load_policy(text, "p.toml").support_levels["base"].hours
    assert [(w.start, w.end) for w in hours.windows] == [("00:00", "08:00"), ("08:00", "24:00")]


def test_unknown_and_duplicate_weekdays_are_refused() -> None:
    text = edit(
        cloud_text(),
        'weekdays = ["mon", "tue", "wed", "thu", "fri"]\nzone = "customer"',
        'weekdays = ["mon", "mon", "funday"]\nzone = "customer"',
    )
    messages = [i.message for i in issues(text)]
    assert messages == [
        'support_levels.base.hours.weekdays[1]: duplicate entry "mon"',
        'support_levels.base.hours.weekdays[2]: unknown weekday "funday" '
        "(known: mon, tue, wed, thu, fri, sat, sun)",
    ]


def test_negative_contact_cap_is_refused() -> None:
    text = edit(cloud_text(), "support_contacts = 6", "support_contacts = -1")
    issue = only_issue(text)
    assert issue.line == line_of(text, "support_contacts = -1")
    assert issue.message == "support_levels.base.support_contacts: must not be negative, got -1"


def test_duplicate_entries_in_a_list_are_refused() -> None:
    text = edit(cloud_text(), "allowed_severities = [1, 2, 3]", "allowed_severities = [1, 2, 2]")
    issue = only_issue(text)
    assert issue.message == "channels.hub.allowed_severities[2]: duplicate entry 2"


def test_duplicate_in_a_multiline_array_points_at_the_element_line() -> None:
    text = edit(
        cloud_text(),
        '  "US PubSec Commercial: Designated Support Engineer",\n',
        '  "US PubSec Commercial: Designated Support Engineer",\n'
        '  "Support: Designated Support Engineer",\n',
    )
    issue = only_issue(text)
    assert issue.message == 'dse.skus[2]: duplicate entry "Support: Designated Support Engineer"'
    assert issue.line == line_of(text, '  "US PubSec Commercial') + 1


def test_duplicate_severity_level_is_refused() -> None:
    text = edit(cloud_text(), "level = 2\n", "level = 1\n")
    found = issues(text)
    assert any(i.message == "severities[1].level: duplicate severity level 1" for i in found)


@pytest.mark.parametrize("replacement", ['description = ""', 'description = "   "'])
def test_severity_with_an_empty_description_is_refused(replacement: str) -> None:
    text = b2b_text()
    start = text.index('description = """', text.index('name = "LOW"'))
    end = text.index('"""', start + len('description = """')) + 3
    issue = only_issue(text[:start] + replacement + text[end:])
    assert issue.message == "severities[3].description: must not be empty"


def test_severity_without_a_description_is_refused() -> None:
    text = cloud_text()
    start = text.index('description = """', text.index('name = "Severity Level 2"'))
    end = text.index('"""', start + len('description = """')) + 3
    broken = text[:start] + text[end:]
    issue = only_issue(broken)
    assert issue.line == line_of(broken, "level = 2") - 1
    assert issue.message == 'severities[1]: missing key "description"'


@pytest.mark.parametrize(
    ("value", "found"),
    [('"2024-06-11"', 'a string ("2024-06-11")'), ("2024-06-11T00:00:00", "a date-time")],
)
def test_effective_date_must_be_a_toml_date(value: str, found: str) -> None:
    text = edit(cloud_text(), "effective_date = 2024-06-11", f"effective_date = {value}")
    issue = only_issue(text)
    assert issue.line == line_of(text, f"effective_date = {value}")
    assert issue.message.startswith(
        "policy.effective_date: expected a TOML date such as 2024-06-11 (no quotes), got " + found
    )


def test_dse_minimum_term_longer_than_maximum_is_refused() -> None:
    text = edit(cloud_text(), "min_term_months = 9", "min_term_months = 40")
    issue = only_issue(text)
    assert issue.line == line_of(text, "min_term_months = 40")
    assert issue.message == (
        "dse.min_term_months: minimum term (40 months) is longer than the maximum (36 months)"
    )


def test_dse_unknown_subscription_level_is_refused() -> None:
    text = edit(cloud_text(), '["platinum", "enterprise"]', '["platinum", "diamond"]')
    issue = only_issue(text)
    assert issue.message == (
        'dse.subscription_levels[1]: unknown subscription level "diamond" '
        "(known: gold, platinum, enterprise, private)"
    )


def test_forced_severity_must_be_allowed_on_its_channel() -> None:
    text = edit(
        cloud_text(),
        "allowed_severities = [3]\nforced_severity = 3",
        "allowed_severities = [2]\nforced_severity = 3",
    )
    issue = only_issue(text)
    assert issue.message == (
        "channels.email.forced_severity: severity 3 is not among allowed_severities (2)"
    )


def test_unknown_channel_and_role_are_refused() -> None:
    text = edit(cloud_text(), "[channels.phone]", "[channels.fax]")
    assert only_issue(text).message == (
        'channels.fax: unknown channel "fax" (known: hub, email, phone, voicemail, api)'
    )
    text = edit(b2b_text(), 'notify = ["on_call", "cs_lead"]', 'notify = ["on_call", "boss"]')
    assert only_issue(text).message.startswith('after_hours[0].notify[1]: unknown role "boss"')


def test_invalid_phone_number_is_refused() -> None:
    text = edit(b2b_text(), 'number = "1-888-585-5574"', 'number = "call us"')
    issue = only_issue(text)
    assert issue.line == line_of(text, 'number = "call us"')
    assert issue.message == 'phone.number: "call us" is not a valid phone number'


def test_unlimited_contacts_load_as_no_cap() -> None:
    text = edit(cloud_text(), "support_contacts = 6", 'support_contacts = "unlimited"')
    assert load_policy(text, "p.toml").support_levels["base"].support_contacts is None


def test_every_error_is_collected_in_line_order() -> None:
    text = cloud_text()
    for old, new in [
        ("effective_date = 2024-06-11", 'effective_date = "June 11, 2024"'),
        ('support_level = "base"', 'support_level = "bse"'),
        ('zone = "customer"', 'zone = "Mars/Olympus"'),
        ('1 = "4 business hours"', '1 = "4 weeks"'),
        ("monthly_hours = 25", "monthly_hours = 0"),
    ]:
        text = edit(text, old, new)
    found = issues(text, "broken.toml")
    assert [i.line for i in found] == sorted(i.line for i in found)
    assert [str(i).split(": ")[1] for i in found] == [
        "policy.effective_date",
        "subscription_levels.gold.support_level",
        "support_levels.base.hours.zone",
        "targets.base.1",
        "dse.monthly_hours",
    ]
    assert all(str(i).startswith("broken.toml:") for i in found)


def test_several_missing_keys_are_named_in_one_issue() -> None:
    text = edit(cloud_text(), "monthly_hours = 25\n", "")
    text = edit(text, "max_term_months = 36\n", "")
    issue = only_issue(text)
    assert issue.line == line_of(text, "[dse]")
    assert issue.message == 'dse: missing keys "max_term_months", "monthly_hours"'


def test_missing_hours_say_what_to_write() -> None:
    block = (
        "[support_levels.customer-success.hours]\n"
        'windows = ["09:00-17:00"]\n'
        'weekdays = ["mon", "tue", "wed", "thu", "fri"]\n'
        'zone = "America/Los_Angeles"\n'
    )
    text = edit(b2b_text(), block, "")
    issue = only_issue(text)
    assert issue.line == line_of(text, "[support_levels.customer-success]")
    assert issue.message == (
        'support_levels.customer-success: missing key "hours" ("24x7x365" or a table of '
        "windows, weekdays and zone)"
    )
