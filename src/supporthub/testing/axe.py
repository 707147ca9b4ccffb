"""WCAG 2.1 AA checks in a real browser: axe-core (vendored, see vendor/axe-core) run on the
page Playwright has open.

The script is evaluated through the browser's DevTools protocol, not added as a <script>
element, so the page's Content-Security-Policy does not have to allow it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_VERSION = "4.14.1"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
OVERFLOW = Path(__file__).resolve().parent / "overflow.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@functools.cache
def _source() -> str:
    source = AXE.read_text(encoding="utf-8")
    if f"axe v{AXE_VERSION}" not in source[:200]:
        raise RuntimeError(f"{AXE} is not axe-core {AXE_VERSION}")
    return source


def axe_violations(page: Page) -> list[str]:
    """Every WCAG 2.0/2.1 A and AA rule the open page breaks, one line per element:
    `rule-id (impact): selector: what is wrong`."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    result: dict[str, Any] = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    found = []
    for violation in result["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            found.append(f"{violation['id']} ({violation['impact']}): {target}: {summary}")
    return found


def too_wide(page: Page) -> list[str]:
    """What makes the open page wider than its viewport (tables that scroll inside their
    own card do not count): empty when nobody has to scroll sideways."""
    layout: dict[str, Any] = page.evaluate(OVERFLOW.read_text(encoding="utf-8"))
    if layout["page"] <= layout["width"] and not layout["wide"]:
        return []
    return [f"wider than {layout['width']} px ({layout['page']} px): {', '.join(layout['wide'])}"]
