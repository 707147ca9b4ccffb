"""Settings read from the environment, strictly: a bad value stops the start with its name."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")


def env_header(name: str, example: str) -> str | None:
    """A request header named in the environment, as its request.META key; None when empty."""
    value = env_str(name, "").strip()
    if not value:
        return None
    if not _HEADER_NAME.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a header name (e.g. {example})")
    return "HTTP_" + value.upper().replace("-", "_")


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL from the environment (empty when unset and no default)."""
    url = env_str(name, default).strip()
    parts = urlsplit(url)
    if url and (parts.scheme not in {"http", "https"} or not parts.hostname):
        raise ImproperlyConfigured(f"{name}={url!r} is not an absolute http:// or https:// URL")
    return url
