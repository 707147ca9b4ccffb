"""How big a request may be, in the words the API's schema and its 413 answers use."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / (1024 * 1024):.1f} MB ({size:,} bytes)"


def body_limit() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"{size_text(limit)}, DATA_UPLOAD_MAX_MEMORY_SIZE"


# The schema cannot bound a JSON body in bytes; the operations taking one say so in words.
BODY_LIMIT: dict[str, Any] = {
    "requestBody": {"description": f"At most {body_limit()}: a larger body gets 413."},
    "responses": {413: {"description": f"The request body is over {body_limit()}"}},
}
