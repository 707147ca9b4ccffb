"""The pure parts: stages from tracker states, note templates, payload reading; the
encrypted secrets; the policy's [development] table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from supporthub import secrets
from supporthub.development import payloads, samples
from supporthub.development.stages import (
    DEFAULT_NOTES,
    ORDER,
    IssueFacts,
    Stage,
    StageMapping,
    stage_of,
    template_problem,
)
from supporthub.policies import schema
from supporthub.policies.loader import PolicyError, load_policy
from supporthub.testing.factories import EXAMPLES


def test_the_stages_are_the_policy_schemas() -> None:
    assert tuple(stage.value for stage in ORDER) == schema.DEVELOPMENT_STAGES
    assert set(DEFAULT_NOTES) == set(Stage)


@pytest.mark.parametrize(
    ("facts", "stage"),
    [
        (IssueFacts("github", state="open"), Stage.LOGGED),
        (IssueFacts("github", state="open", labels=("bug", "Accepted")), Stage.ACCEPTED),
        (IssueFacts("github", state="open", labels=("accepted",), open_pulls=1), Stage.IN_REVIEW),
        (IssueFacts("github", state="open", merged_pulls=1, open_pulls=1), Stage.FIXED),
        (IssueFacts("github", state="closed", state_reason="completed"), Stage.FIXED),
        (IssueFacts("github", state="closed", state_reason="not_planned"), Stage.WONT_FIX),
        (IssueFacts("github", state="open", labels=("wontfix",)), Stage.WONT_FIX),
        (IssueFacts("github", state="open", merged_pulls=1, in_production=True), Stage.RELEASED),
        (IssueFacts("jira", state="Selected for Development"), Stage.ACCEPTED),
        (IssueFacts("jira", state="Triage", category="indeterminate"), Stage.IN_PROGRESS),
        (IssueFacts("jira", state="Done", state_reason="Won't Do"), Stage.WONT_FIX),
        (IssueFacts("generic", state="in_review"), Stage.IN_REVIEW),
    ],
)
def test_stage_of_tracker_states(facts: IssueFacts, stage: Stage) -> None:
    assert stage_of(facts, StageMapping()) == stage


def test_a_policy_mapping_adds_to_the_defaults() -> None:
    mapping = StageMapping(jira_statuses={"ready for qa": Stage.IN_REVIEW})
    assert stage_of(IssueFacts("jira", state="Ready for QA"), mapping) == Stage.IN_REVIEW


def test_note_templates_name_only_known_fields() -> None:
    assert template_problem("Fixed in {key}: {url}") == ""
    assert "unknown field {assignee}" in template_problem("{assignee} fixed it")
    assert template_problem("  ") == "a note template must not be empty"


def test_closing_keywords_name_issues_of_the_same_repository_only() -> None:
    pull = samples.github_pull("acme/shop", 5, fixes=42, at=samples_time(), merged=False)
    pull["body"] = "Fixes #42, closes acme/shop#43 and resolves other/repo#44. Refs #45"
    seen = payloads.github_pull(pull, "acme/shop")
    assert seen.fixes == ("acme/shop#42", "acme/shop#43")


def samples_time() -> datetime:
    return datetime(2026, 12, 7, tzinfo=UTC)


def test_jira_times_with_a_numeric_offset_are_read() -> None:
    offset = payloads.when("2026-12-07T16:00:00.000+0100")
    assert offset is not None and offset.isoformat() == "2026-12-07T16:00:00+01:00"
    assert payloads.when(1765123200000) == datetime(2025, 12, 7, 16, 0, tzinfo=UTC)


def test_a_secret_round_trips_and_is_not_stored_in_clear() -> None:
    token = secrets.encrypt("ghp_live_token")
    assert "ghp_live_token" not in token
    assert secrets.decrypt(token) == "ghp_live_token"
    assert secrets.encrypt("") == ""


def test_a_secret_under_another_key_is_unreadable_and_says_so() -> None:
    token = secrets.encrypt("s3cret")
    with override_settings(SECRETS_KEY="another key entirely, long enough"):
        with pytest.raises(secrets.SecretUnreadable, match="shop: API token does not decrypt"):
            secrets.decrypt(token, what="shop: API token")


WORDED = """
[development.jira_statuses]
"Ready for QA" = "in_review"

[development.notes]
released = "The fix for {key} is live in production."
"""


def b2b_with(extra: str) -> str:
    text = (EXAMPLES / "b2b-customer-success.toml").read_text()
    anchor = "resolve_on_production = true\n"
    return text.replace(anchor, anchor + extra, 1)


def test_a_policy_adds_stage_mappings_and_words_the_notes() -> None:
    policy = load_policy(b2b_with(WORDED), "b2b.toml")
    assert policy.development is not None
    assert policy.development.resolve_on_production
    assert policy.development.jira_statuses == {"ready for qa": "in_review"}
    assert policy.development.notes == {"released": "The fix for {key} is live in production."}


def test_a_bad_development_table_is_refused_naming_the_line() -> None:
    text = b2b_with(WORDED.replace('"in_review"', '"reviewing"').replace("{key}", "{assignee}"))
    with pytest.raises(PolicyError) as raised:
        load_policy(text, "b2b.toml")
    message = str(raised.value)
    assert "development.jira_statuses" in message and "reviewing" in message
    assert "unknown field {assignee}" in message
