"""Logging filters."""

from __future__ import annotations

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """A 4xx answer is logged as one line, without the traceback of the exception that made
    it (Django passes a PermissionDenied or a 400's exception along with the record): a
    refused request is the rules working, not a fault. 5xx records keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
