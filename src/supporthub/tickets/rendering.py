"""Showing what customers and mail wrote: bodies sanitised at render time, files as downloads."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import nh3
from django.http import FileResponse
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from supporthub.tickets.models import Attachment, BodyFormat

# What survives in HTML bodies: text formatting, lists, tables, links; never scripts, styles,
# forms, frames, images (which would fetch from other servers) or event handlers.
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr",
    "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan"}, "th": {"colspan"}}


def render_body(body: str, body_format: str) -> SafeString:
    """The HTML to show for a stored body; the stored original is never changed."""
    if body_format == BodyFormat.HTML:
        cleaned = nh3.clean(
            body,
            tags=_ALLOWED_TAGS,
            attributes=_ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
        return mark_safe(cleaned)  # noqa: S308 - nh3 has just sanitised it
    return mark_safe(linebreaks(escape(body)))  # noqa: S308 - escaped first


def attachment_response(attachment: Attachment) -> FileResponse:
    """A download that the browser never renders inline from our origin."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


def local_time(value: datetime | None, zone: str) -> datetime | None:
    return value.astimezone(ZoneInfo(zone)) if value is not None else None
