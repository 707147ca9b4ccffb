"""A local HTTP server on loopback speaking the endpoints the product reads: GitHub's
/repos/{repo}/issues/{n}, /pulls/{n} and /compare/{base}...{head}, Jira's
/rest/api/2/issue/{idOrKey}. Answers come from dictionaries the test fills in; every
request is recorded with its headers (the token must be sent)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from supporthub.testing.loopback import LoopbackServer, QuietHandler

COMPARE = re.compile(r"^/repos/([^/]+/[^/]+)/compare/([^.]+)\.\.\.(.+)$")
ISSUE = re.compile(r"^/repos/([^/]+/[^/]+)/(issues|pulls)/(\d+)$")
JIRA = re.compile(r"^/rest/api/2/issue/([^/]+)$")


class FakeTracker(LoopbackServer):
    def __init__(self) -> None:
        self.github_issues: dict[int, dict[str, Any]] = {}
        self.github_pulls: dict[int, dict[str, Any]] = {}
        self.compare: dict[tuple[str, str], str] = {}  # (base, head) -> status
        self.jira_issues: dict[str, dict[str, Any]] = {}  # by id and by key
        self.requests: list[tuple[str, dict[str, str]]] = []
        tracker = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                tracker.requests.append((self.path, dict(self.headers.items())))
                if not self.headers.get("Authorization"):
                    return self._answer(401, {"message": "Requires authentication"})
                found = tracker.answer(path)
                if found is None:
                    return self._answer(404, {"message": "Not Found"})
                return self._answer(200, found)

            def _answer(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    def answer(self, path: str) -> Any:
        if match := COMPARE.match(path):
            status = self.compare.get((match[2], match[3]))
            if status is None:
                return None
            return {"status": status, "ahead_by": 1, "behind_by": 0, "commits": []}
        if match := ISSUE.match(path):
            table = self.github_issues if match[2] == "issues" else self.github_pulls
            return table.get(int(match[3]))
        if match := JIRA.match(path):
            return self.jira_issues.get(match[1])
        return None
