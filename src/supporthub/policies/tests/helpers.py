"""Shipped example policies, and broken copies of them for error tests."""

from __future__ import annotations

from pathlib import Path

from supporthub.policies.loader import PolicyError, PolicyIssue, load_policy

EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "policies"
CLOUD = EXAMPLES / "cloud-support.toml"
B2B = EXAMPLES / "b2b-customer-success.toml"


def cloud_text() -> str:
    return CLOUD.read_text(encoding="utf-8")


def b2b_text() -> str:
    return B2B.read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, so a test breaks what it means to."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line on which `needle` (occurring once) starts."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


def issues(text: str, filename: str = "policy.toml") -> list[PolicyIssue]:
    try:
        load_policy(text, filename)
    except PolicyError as exc:
        return exc.errors
    raise AssertionError("the policy loaded without errors")


def only_issue(text: str) -> PolicyIssue:
    found = issues(text)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]
