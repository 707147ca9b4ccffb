"""The documented sequences of deliveries, as GitHub and Jira send them (their webhook
payloads, trimmed to the fields the product reads plus the usual neighbours): what the
`development-demo-post` command posts to a running Support Hub, and what the tests replay.

GitHub: issue labelled "accepted", pull request "Fixes #N" opened, merged, and a successful
deployment of the merge commit to production. Jira: the issue moved to In Progress, to In
Review, to Done with a fix version, and that version released.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

MERGE_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
HEAD_SHA = "e2f9b2b0c0ffee0c0ffee0c0ffee0c0ffee1a2b3"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def github_repository(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/", 1)
    return {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {"login": owner, "id": 1, "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "default_branch": "main",
    }


SENDER = {"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User"}


def github_issue(
    full_name: str, number: int, *, at: datetime, labels: list[str], state: str = "open"
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{full_name}/issues/{number}",
        "html_url": f"https://github.com/{full_name}/issues/{number}",
        "id": 1347 + number,
        "node_id": "I_kwDOABCD5M5abcde",
        "number": number,
        "title": "Order export drops lines with a discount",
        "user": SENDER,
        "labels": [
            {"id": 208045946 + i, "name": name, "color": "0e8a16", "default": False}
            for i, name in enumerate(labels)
        ],
        "state": state,
        "state_reason": "completed" if state == "closed" else None,
        "locked": False,
        "assignees": [{"login": "hubot", "id": 2}],
        "comments": 3,
        "created_at": _iso(at - timedelta(days=1)),
        "updated_at": _iso(at),
        "closed_at": _iso(at) if state == "closed" else None,
        "author_association": "MEMBER",
        "body": "Customers report that exported orders lose every discounted line.",
    }


def github_issue_labeled(full_name: str, number: int, *, at: datetime) -> dict[str, Any]:
    return {
        "action": "labeled",
        "issue": github_issue(full_name, number, at=at, labels=["bug", "accepted"]),
        "label": {"id": 208045947, "name": "accepted", "color": "0e8a16", "default": False},
        "repository": github_repository(full_name),
        "sender": SENDER,
    }


def github_pull(
    full_name: str, number: int, *, fixes: int, at: datetime, merged: bool
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
        "id": 1000 + number,
        "node_id": "PR_kwDOABCD5M5xyz",
        "html_url": f"https://github.com/{full_name}/pull/{number}",
        "number": number,
        "state": "closed" if merged else "open",
        "locked": False,
        "title": "Keep discounted lines in the order export",
        "user": SENDER,
        "body": f"The exporter skipped lines whose price was rewritten.\n\nFixes #{fixes}",
        "created_at": _iso(at - timedelta(hours=2)),
        "updated_at": _iso(at),
        "closed_at": _iso(at) if merged else None,
        "merged_at": _iso(at) if merged else None,
        "merge_commit_sha": MERGE_SHA if merged else None,
        "draft": False,
        "head": {"label": "acme:fix-export", "ref": "fix-export", "sha": HEAD_SHA},
        "base": {
            "label": "acme:main",
            "ref": "main",
            "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        },
        "merged": merged,
        "merged_by": SENDER if merged else None,
        "comments": 1,
        "commits": 2,
    }


def github_pull_request(
    full_name: str, number: int, *, fixes: int, at: datetime, merged: bool
) -> dict[str, Any]:
    return {
        "action": "closed" if merged else "opened",
        "number": number,
        "pull_request": github_pull(full_name, number, fixes=fixes, at=at, merged=merged),
        "repository": github_repository(full_name),
        "sender": SENDER,
    }


def github_deployment_status(
    full_name: str,
    *,
    sha: str,
    at: datetime,
    environment: str = "production",
    state: str = "success",
) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "url": f"https://api.github.com/repos/{full_name}/deployments/42/statuses/1",
            "id": 7001,
            "node_id": "DES_kwDOABCD5M4AAAAB",
            "state": state,
            "creator": SENDER,
            "description": "Deployed by the release pipeline",
            "environment": environment,
            "target_url": "",
            "created_at": _iso(at),
            "updated_at": _iso(at),
            "environment_url": "https://shop.example.com",
            "log_url": "",
        },
        "deployment": {
            "url": f"https://api.github.com/repos/{full_name}/deployments/42",
            "id": 42,
            "node_id": "DE_kwDOABCD5M4AAAAq",
            "sha": sha,
            "ref": "main",
            "task": "deploy",
            "payload": {},
            "original_environment": environment,
            "environment": environment,
            "description": None,
            "creator": SENDER,
            "created_at": _iso(at - timedelta(minutes=3)),
            "updated_at": _iso(at),
            "transient_environment": False,
            "production_environment": environment == "production",
        },
        "repository": github_repository(full_name),
        "sender": SENDER,
    }


def github_sequence(
    full_name: str, issue: int, *, start: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """(X-GitHub-Event, body) in order: labelled, PR opened, PR merged, deployed."""
    pull = issue + 15
    minute = timedelta(minutes=1)
    return [
        ("issues", github_issue_labeled(full_name, issue, at=start)),
        (
            "pull_request",
            github_pull_request(full_name, pull, fixes=issue, at=start + 10 * minute, merged=False),
        ),
        (
            "pull_request",
            github_pull_request(full_name, pull, fixes=issue, at=start + 20 * minute, merged=True),
        ),
        (
            "deployment_status",
            github_deployment_status(full_name, sha=MERGE_SHA, at=start + 30 * minute),
        ),
    ]


# -- Jira ------------------------------------------------------------------------------------

JIRA_STATUSES = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10002", "indeterminate"),
    "Done": ("10001", "done"),
}


def jira_issue(
    site: str,
    *,
    issue_id: str,
    key: str,
    status: str,
    at: datetime,
    fix_versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status_id, category = JIRA_STATUSES.get(status, ("10003", "indeterminate"))
    return {
        "id": issue_id,
        "self": f"{site}/rest/api/2/issue/{issue_id}",
        "key": key,
        "fields": {
            "summary": "Order export drops lines with a discount",
            "issuetype": {"id": "10004", "name": "Bug", "subtask": False},
            "project": {"id": "10000", "key": key.split("-")[0], "name": "Shop"},
            "status": {
                "self": f"{site}/rest/api/2/status/{status_id}",
                "id": status_id,
                "name": status,
                "statusCategory": {"id": 4, "key": category, "name": category.title()},
            },
            "resolution": {"id": "10000", "name": "Done"} if status == "Done" else None,
            "fixVersions": fix_versions or [],
            "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
            "priority": {"id": "3", "name": "Medium"},
            "created": (at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "updated": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        },
    }


def jira_version(site: str, *, released: bool, version_id: str = "10100") -> dict[str, Any]:
    return {
        "self": f"{site}/rest/api/2/version/{version_id}",
        "id": version_id,
        "description": "Spring release",
        "name": "2.4.0",
        "archived": False,
        "released": released,
        "releaseDate": "2026-12-08",
        "projectId": 10000,
    }


def jira_issue_updated(
    site: str,
    *,
    issue_id: str,
    key: str,
    previous: str,
    status: str,
    at: datetime,
    fix_versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
        "issue": jira_issue(
            site, issue_id=issue_id, key=key, status=status, at=at, fix_versions=fix_versions
        ),
        "changelog": {
            "id": str(10000 + int(at.timestamp()) % 10000),
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": JIRA_STATUSES.get(previous, ("1", ""))[0],
                    "fromString": previous,
                    "to": JIRA_STATUSES.get(status, ("1", ""))[0],
                    "toString": status,
                }
            ],
        },
    }


def jira_version_released(site: str, *, at: datetime, version_id: str = "10100") -> dict[str, Any]:
    return {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": "jira:version_released",
        "version": jira_version(site, released=True, version_id=version_id),
    }


def jira_sequence(site: str, *, issue_id: str, key: str, start: datetime) -> list[dict[str, Any]]:
    """Bodies in order: In Progress, In Review, Done (fix version 2.4.0), 2.4.0 released."""
    minute = timedelta(minutes=1)
    version = [jira_version(site, released=False)]
    return [
        jira_issue_updated(
            site, issue_id=issue_id, key=key, previous="To Do", status="In Progress", at=start
        ),
        jira_issue_updated(
            site,
            issue_id=issue_id,
            key=key,
            previous="In Progress",
            status="In Review",
            at=start + 10 * minute,
        ),
        jira_issue_updated(
            site,
            issue_id=issue_id,
            key=key,
            previous="In Review",
            status="Done",
            at=start + 20 * minute,
            fix_versions=version,
        ),
        jira_version_released(site, at=start + 30 * minute),
    ]
