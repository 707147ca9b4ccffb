"""All settings, read from the environment; the defaults run with no environment at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from supporthub.env import env_bool, env_header, env_int, env_list, env_str, env_url

# Lets admin.ModelAdmin[Model] and friends be subscripted at run time (typed admin).
django_stubs_ext.monkeypatch()

SRC_DIR = Path(__file__).resolve().parent


def _default_data_dir() -> Path:
    # An editable install keeps src/ inside the checkout: keep data beside it in var/.
    checkout = SRC_DIR.parent.parent
    if (checkout / "pyproject.toml").exists():
        return checkout / "var"
    return Path.cwd() / "var"


DATA_DIR = Path(env_str("SUPPORTHUB_DATA_DIR", str(_default_data_dir())))
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key is not None:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return key
    # No key given: make one once and keep it, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _database() -> dict[str, Any]:
    default_url = f"sqlite:///{DATA_DIR / 'supporthub.sqlite3'}"
    url = env_str("DATABASE_URL", default_url)
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not a database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        if config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on
            # busy_timeout instead of failing with "database is locked" mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
            ),
        }
        # One test database per test process (xdist adds its worker suffix to this), so two
        # suites run side by side on one checkout never share, or delete, each other's.
        config["TEST"] = {"NAME": str(DATA_DIR / f"test-supporthub-{os.getpid()}.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        # Parameters bound by the server, and statements run twice on a connection prepared:
        # PostgreSQL then skips planning them (most of a short query's cost on this workload).
        # DATABASE_PREPARED_STATEMENTS=false for a pooler that cannot keep them (PgBouncer
        # before 1.21 in transaction mode).
        options.setdefault("server_side_binding", True)
        if env_bool("DATABASE_PREPARED_STATEMENTS", True):
            options.setdefault("prepare_threshold", 2)
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r}: only sqlite:// and postgres:// databases are supported"
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "supporthub.staff",
    "supporthub.policies",
    "supporthub.customers",
    "supporthub.tickets",
    "supporthub.sla",
    "supporthub.routing",
    "supporthub.notify",
    "supporthub.dse",
    "supporthub.intake.email",
    "supporthub.intake.voicemail",
    "supporthub.development",
    "supporthub.api",
    "supporthub.portal",
    "supporthub.console",
    "supporthub.web",
    "supporthub.worker",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "supporthub.urls"
WSGI_APPLICATION = "supporthub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "supporthub.web.viewers.viewer_context",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"
# Attachments: the largest file accepted, and how many at once; uploads past Django's
# in-memory limit spill to a temporary file, so a large file never sits in memory.
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
ATTACHMENTS_PER_MESSAGE = env_int("ATTACHMENTS_PER_MESSAGE", 10, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
LOGIN_URL = "web:login"
# A password reset link works once, for this many seconds (Django's token generator).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=300)
LOGIN_REDIRECT_URL = "web:home"

# Outbound mail (supporthub.notify). With no environment, mail is written as files under
# DATA_DIR/mail so `make run` works without a mail server; set EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend (and EMAIL_HOST...) to send for real.
SUPPORT_FROM_EMAIL = env_str("SUPPORT_FROM_EMAIL", "Support Hub <support@supporthub.example>")
DEFAULT_FROM_EMAIL = SUPPORT_FROM_EMAIL
SERVER_EMAIL = SUPPORT_FROM_EMAIL
REPLY_DOMAIN = env_str("REPLY_DOMAIN", "supporthub.example")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


# --- HTTPS -----------------------------------------------------------------------------------
# Served over https (PUBLIC_BASE_URL says where the product is reached): cookies go over TLS
# only, unless set otherwise. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER
# names the header it sets to "https" (and must strip from what clients send).
SERVED_OVER_HTTPS = PUBLIC_BASE_URL.startswith("https://")


def _proxy_ssl_header() -> tuple[str, str] | None:
    header = env_header("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    return None if header is None else (header, "https")


def _hsts() -> tuple[int, bool, bool]:
    seconds = env_int("SECURE_HSTS_SECONDS", 0)
    subdomains = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    preload = env_bool("SECURE_HSTS_PRELOAD", False)
    if preload and (not subdomains or seconds < 31_536_000):
        raise ImproperlyConfigured(
            "SECURE_HSTS_PRELOAD=true needs SECURE_HSTS_INCLUDE_SUBDOMAINS=true and "
            "SECURE_HSTS_SECONDS of at least 31536000 (the preload list's own rule)"
        )
    if seconds and not SERVED_OVER_HTTPS:
        raise ImproperlyConfigured(
            f"SECURE_HSTS_SECONDS={seconds} needs an https:// PUBLIC_BASE_URL "
            f"(it is {PUBLIC_BASE_URL!r}): browsers would refuse the plain-HTTP address"
        )
    return seconds, subdomains, preload


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer's health check may ask over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD = _hsts()
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SERVED_OVER_HTTPS)

# --- Login throttling (django-axes) ----------------------------------------------------------
# Failed logins on every password form (/login/, /admin/login/: both authenticate through
# Django, which axes watches) are counted per account at a client address, and per address
# over all names. Past LOGIN_FAILURE_LIMIT for the account there, or LOGIN_ADDRESS_FAILURE_LIMIT
# for the address, that address is refused (429, even the right password) for a wait that
# starts at LOGIN_LOCKOUT_MINUTES and doubles for each further limit's worth of failures in the
# past day, up to LOGIN_LOCKOUT_MAX_MINUTES. Nothing is counted per account alone, so a guesser
# elsewhere never locks a colleague out. The client address is REMOTE_ADDR, unless
# LOGIN_CLIENT_IP_HEADER names the header a trusted proxy in front sets (X-Forwarded-For,
# X-Real-IP): its right-most entry is taken, the one that proxy wrote (whatever a client sent
# sits to its left). Set it only behind such a proxy: anyone can send the header.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=2)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=2)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 5, minimum=1)
LOGIN_LOCKOUT_MAX_MINUTES = env_int("LOGIN_LOCKOUT_MAX_MINUTES", 60, minimum=1)
if LOGIN_LOCKOUT_MAX_MINUTES < LOGIN_LOCKOUT_MINUTES:
    raise ImproperlyConfigured(
        f"LOGIN_LOCKOUT_MAX_MINUTES={LOGIN_LOCKOUT_MAX_MINUTES} is shorter than "
        f"LOGIN_LOCKOUT_MINUTES={LOGIN_LOCKOUT_MINUTES} (the first wait)"
    )
# Failed logins older than this many days are deleted from axes' failure log by the worker
# (hourly); the doubling wait looks back one day, so at least 2.
LOGIN_FAILURE_LOG_DAYS = env_int("LOGIN_FAILURE_LOG_DAYS", 30, minimum=2)
LOGIN_CLIENT_IP_HEADER = env_header("LOGIN_CLIENT_IP_HEADER", "X-Forwarded-For")
INSTALLED_APPS.append("axes")
# Last, so it sees the login views' answers and turns a refused login into the lockout page.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# Axes' backend comes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "supporthub.web.throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = "supporthub.web.throttle.cool_off"
# Each client's attempts expire on their own (its wait differs from another's), and tries made
# while refused are not counted: the right password typed during the wait does not prolong it.
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the address's count (a guesser with a login of their own could).
AXES_RESET_ON_SUCCESS = False
# The failure log is what the doubling wait is reckoned from; successful logins are not kept.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "supporthub.web.throttle.lockout_response"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    (LOGIN_CLIENT_IP_HEADER, "REMOTE_ADDR") if LOGIN_CLIENT_IP_HEADER else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_ORDER = "right-most"
# No banner on every command's start; a lockout is still logged (names and addresses masked).
AXES_VERBOSE = False

# --- Content-Security-Policy (django-csp) ------------------------------------------------------
# Every page's scripts and styles are static files of our own origin: no inline script or
# style, no eval, nothing from another origin. Attachments are downloads, never rendered.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
# Delivery retries back off 1, 2, 4 ... minutes (capped at an hour); after this many
# attempts a message is marked failed for the admin to retry.
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10, minimum=1)
# Up to this many percent are added to each delay, so mail that failed together (a mail
# server that was down) does not all come back at the same instant.
OUTBOX_BACKOFF_JITTER = env_int("OUTBOX_BACKOFF_JITTER", 10)

# Background work (supporthub.worker) through the django-tasks API. The outbox rows are
# the truth and a task only wakes a worker, so a lost task costs a minute, never a message.
# "db" keeps the queue in the database (nothing else to run); "rq" puts it on Redis.
TASK_BACKENDS = {"db": "django_tasks_db.DatabaseBackend", "rq": "django_tasks_rq.RQBackend"}


def _tasks_backend() -> str:
    raw = env_str("TASKS_BACKEND", "db")
    name = raw.strip().lower()
    if name not in TASK_BACKENDS:
        raise ImproperlyConfigured(
            f"TASKS_BACKEND={raw!r} is not a task backend (use {' or '.join(TASK_BACKENDS)})"
        )
    return name


TASKS_BACKEND = _tasks_backend()


def _redis_url() -> str:
    url = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL={url!r} is not a redis://, rediss:// or unix:// URL")
    # A Redis host that does not answer must not hold a request that wakes a worker for long.
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", "2")
    return urlunsplit(parts._replace(query=urlencode(query)))


REDIS_URL = _redis_url()
TASKS = {"default": {"BACKEND": TASK_BACKENDS[TASKS_BACKEND], "QUEUES": ["default"]}}
# django-rq reads this only when the rq backend is used; it costs nothing otherwise.
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}

# --- intake.email: storage and sources (IMAP, SMTP listener) ---
# Every message is stored raw before its source is acknowledged; processing (parse, thread,
# ticket) follows. A message whose processing raised this many times is quarantined for an
# admin; a worker's claim on a batch lapses after INBOX_CLAIM_SECONDS (a dead worker's rows
# are then taken by another; a failed one waits that long before its next attempt).
INBOX_MAX_ATTEMPTS = env_int("INBOX_MAX_ATTEMPTS", 3, minimum=1)
INBOX_CLAIM_SECONDS = env_int("INBOX_CLAIM_SECONDS", 120, minimum=1)
# The SMTP listener (`supporthub smtp-listen`, started by `make run`): answers 250 only once
# the message is stored, 451 (try again later) when storing fails.
SMTP_LISTEN_HOST = env_str("SMTP_LISTEN_HOST", "127.0.0.1")
SMTP_LISTEN_PORT = env_int("SMTP_LISTEN_PORT", 2525, minimum=1)
SMTP_LISTEN_MAX_BYTES = env_int("SMTP_LISTEN_MAX_BYTES", 32 * 1024 * 1024, minimum=1024)
# IMAP polling, off while IMAP_HOST is empty: new mail in IMAP_FOLDER is stored, then moved
# to IMAP_PROCESSED_FOLDER (created when missing); nothing is deleted before it is stored.
IMAP_HOST = env_str("IMAP_HOST", "")
IMAP_SSL = env_bool("IMAP_SSL", True)
IMAP_PORT = env_int("IMAP_PORT", 993 if IMAP_SSL else 143, minimum=1)
IMAP_USER = env_str("IMAP_USER", "")
IMAP_PASSWORD = env_str("IMAP_PASSWORD", "")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX")
IMAP_PROCESSED_FOLDER = env_str("IMAP_PROCESSED_FOLDER", "Processed")
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 60, minimum=1)
IMAP_TIMEOUT = env_int("IMAP_TIMEOUT", 60, minimum=1)
if IMAP_HOST and not (IMAP_USER and IMAP_PASSWORD):
    raise ImproperlyConfigured("IMAP_HOST is set: IMAP_USER and IMAP_PASSWORD are needed too")
if IMAP_HOST and IMAP_PROCESSED_FOLDER.strip() in {"", IMAP_FOLDER}:
    raise ImproperlyConfigured("IMAP_PROCESSED_FOLDER must name a folder other than IMAP_FOLDER")

# --- intake.email: mail to ticket ---
# The From header is only as trustworthy as what checks it, and the operator must choose one
# (until then `check --deploy` reports an error and the listener and poller log one at start):
# - INBOUND_MAIL_AUTHSERV_ID: the authserv-id our MX writes in Authentication-Results
#   (RFC 8601, e.g. mx1.example.com): mail claiming to be from a Support Contact needs a
#   DMARC pass, or a DKIM or SPF pass aligned with the From domain, stamped with this id;
# - INBOUND_MAIL_VERIFY_DKIM=true: the product verifies DKIM itself (dkimpy), and needs a
#   signature aligned with the From domain;
# - INBOUND_MAIL_TRUST_FROM=true: From is taken on trust (the demo; a closed network).
# Mail from a contact that is not proven is quarantined (unknown senders are not answered).
INBOUND_MAIL_AUTHSERV_ID = env_str("INBOUND_MAIL_AUTHSERV_ID", "").strip()
if any(not (c.isascii() and (c.isalnum() or c in ".-_")) for c in INBOUND_MAIL_AUTHSERV_ID):
    raise ImproperlyConfigured(
        f"INBOUND_MAIL_AUTHSERV_ID={INBOUND_MAIL_AUTHSERV_ID!r} is not a host name "
        "(the authserv-id of Authentication-Results, e.g. mx1.example.com)"
    )
INBOUND_MAIL_VERIFY_DKIM = env_bool("INBOUND_MAIL_VERIFY_DKIM", False)
INBOUND_MAIL_TRUST_FROM = env_bool("INBOUND_MAIL_TRUST_FROM", False)
if INBOUND_MAIL_TRUST_FROM and (INBOUND_MAIL_AUTHSERV_ID or INBOUND_MAIL_VERIFY_DKIM):
    raise ImproperlyConfigured(
        "INBOUND_MAIL_TRUST_FROM=true contradicts INBOUND_MAIL_AUTHSERV_ID or "
        "INBOUND_MAIL_VERIFY_DKIM: choose one way of trusting the From address"
    )

# --- sla warnings (breach warnings, auto-escalation) ---


def _sla_warning_points() -> tuple[int, ...]:
    """Percentages of the first-response target at which staff are warned; 100 is the breach."""
    raw = env_str("SLA_WARNING_POINTS", "75,100")
    points: set[int] = set()
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            value = int(item)
        except ValueError:
            raise ImproperlyConfigured(
                f"SLA_WARNING_POINTS={raw!r}: {item.strip()!r} is not a whole percentage"
            ) from None
        if not 1 <= value <= 100:
            raise ImproperlyConfigured(
                f"SLA_WARNING_POINTS={raw!r}: {value} is not between 1 and 100"
            )
        points.add(value)
    if 100 not in points:
        raise ImproperlyConfigured(
            f"SLA_WARNING_POINTS={raw!r} must include 100 (the breach itself is always notified)"
        )
    return tuple(sorted(points))


def _sla_region_addresses() -> dict[str, str]:
    """REGION=address pairs: who "the region" is for a region key; others mail its staff."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    addresses: dict[str, str] = {}
    for item in env_list("SLA_REGION_ADDRESSES", []):
        region, sep, address = item.partition("=")
        region, address = region.strip(), address.strip()
        try:
            validate_email(address)
        except ValidationError:
            sep = ""
        if not sep or not region:
            raise ImproperlyConfigured(
                f"SLA_REGION_ADDRESSES: {item!r} is not REGION=address "
                "(e.g. us=us-support@example.com)"
            )
        addresses[region] = address
    return addresses


SLA_WARNING_POINTS = _sla_warning_points()
SLA_REGION_ADDRESSES = _sla_region_addresses()
SLA_SCAN_EVERY = env_int("SLA_SCAN_EVERY", 30, minimum=1)

# --- paging (after-hours urgent: PagerDuty, webhook, email) ---
# An urgent ticket opened while no region is on duty pages the on-call engineer (mail, plus
# PagerDuty and/or a signed webhook when configured, here or per rotation in the admin).


PAGING_PAGERDUTY_EVENTS_URL = env_url(
    "PAGING_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue"
)
if not PAGING_PAGERDUTY_EVENTS_URL:
    raise ImproperlyConfigured("PAGING_PAGERDUTY_EVENTS_URL must not be empty")
# Defaults for rotations that name none of their own; blank sends nothing by that transport.
PAGING_PAGERDUTY_ROUTING_KEY = env_str("PAGING_PAGERDUTY_ROUTING_KEY", "").strip()
PAGING_WEBHOOK_URL = env_url("PAGING_WEBHOOK_URL", "")
PAGING_WEBHOOK_SECRET = env_str("PAGING_WEBHOOK_SECRET", "")
if PAGING_WEBHOOK_URL and not PAGING_WEBHOOK_SECRET:
    raise ImproperlyConfigured("PAGING_WEBHOOK_URL is set but PAGING_WEBHOOK_SECRET is empty")
# Seconds to wait for an answer; attempts before a delivery is marked failed (retries back
# off 30 s, 1, 2, 4 ... minutes, capped at 15, or as long as a 429's Retry-After asks).
PAGING_HTTP_TIMEOUT = env_int("PAGING_HTTP_TIMEOUT", 10, minimum=1)
PAGING_MAX_ATTEMPTS = env_int("PAGING_MAX_ATTEMPTS", 8, minimum=1)
# Up to this many percent added to each retry's delay (never to a Retry-After).
PAGING_BACKOFF_JITTER = env_int("PAGING_BACKOFF_JITTER", 10)

# --- intake.voicemail (Twilio webhook) ---
# The secret Twilio signs its callbacks with (the account Auth Token, or a SharedKey secret
# for HMAC_SHA256 signing). Empty: the webhook answers 503 and stores nothing. Signatures are
# checked against PUBLIC_BASE_URL's scheme and host plus the request's path, the address
# Twilio is configured with, so a reverse proxy in front does not break them.
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")


def _phone_region(name: str, default: str) -> str:
    import phonenumbers  # only this setting needs it

    value = env_str(name, default).strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(f"{name}={value!r} is not a country code (e.g. US, GB)")
    return value


# Where the support line is: a caller number in national form is read in this region.
VOICEMAIL_DEFAULT_REGION = _phone_region("VOICEMAIL_DEFAULT_REGION", "US")


# --- development tickets (GitHub, Jira, generic trackers) ---
# The key tracker secrets are encrypted with in the database (supporthub.secrets); any long
# random string. Default: SECRET_KEY. Changing it makes stored secrets unreadable.
SECRETS_KEY = env_str("SECRETS_KEY", "") or SECRET_KEY
# Attempts at processing one inbound delivery before it is marked failed.
DEVELOPMENT_MAX_ATTEMPTS = env_int("DEVELOPMENT_MAX_ATTEMPTS", 5, minimum=1)
# Seconds to wait for a tracker's REST API; seconds between reconciliation runs.
DEVELOPMENT_HTTP_TIMEOUT = env_int("DEVELOPMENT_HTTP_TIMEOUT", 10, minimum=1)
DEVELOPMENT_RECONCILE_SECONDS = env_int("DEVELOPMENT_RECONCILE_SECONDS", 900, minimum=30)


# --- Single sign-on (OpenID Connect, mozilla-django-oidc) ---------------------------------
# Off while SSO_CLIENT_ID is empty. A sign-in is matched by its verified email to an active
# staff member's login or an active Support Contact's; nobody gets a login from it
# (supporthub.web.sso). The OIDC_* names are the library's. Axes' backend stays first in
# AUTHENTICATION_BACKENDS: a locked-out client is refused before any sign-in is checked.
OIDC_RP_CLIENT_ID = env_str("SSO_CLIENT_ID", "").strip()
SSO_ENABLED = bool(OIDC_RP_CLIENT_ID)
_SSO_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256"}


def _sso_url(name: str, *, needed: bool) -> str:
    url = env_url(name, "")
    host = urlsplit(url).hostname or ""
    loopback = host in {"localhost", "::1"} or host.startswith("127.")
    if url and not url.startswith("https://") and not loopback:
        raise ImproperlyConfigured(f"{name}={url!r} must be https:// (plain http on loopback only)")
    if needed and not url:
        raise ImproperlyConfigured(f"SSO_CLIENT_ID is set: {name} is needed too")
    if url and not OIDC_RP_CLIENT_ID:
        raise ImproperlyConfigured(f"{name} is set but SSO_CLIENT_ID is empty (SSO is off)")
    return url


SSO_BUTTON_LABEL = env_str("SSO_BUTTON_LABEL", "").strip() or "single sign-on"
OIDC_RP_CLIENT_SECRET = env_str("SSO_CLIENT_SECRET", "")
if SSO_ENABLED and not OIDC_RP_CLIENT_SECRET:
    raise ImproperlyConfigured("SSO_CLIENT_ID is set: SSO_CLIENT_SECRET is needed too")
OIDC_RP_SIGN_ALGO = env_str("SSO_SIGN_ALGORITHM", "RS256").strip().upper()
if OIDC_RP_SIGN_ALGO not in _SSO_ALGORITHMS:
    raise ImproperlyConfigured(
        f"SSO_SIGN_ALGORITHM={OIDC_RP_SIGN_ALGO!r} is not one of {sorted(_SSO_ALGORITHMS)}"
    )
OIDC_OP_AUTHORIZATION_ENDPOINT = _sso_url("SSO_AUTHORIZATION_URL", needed=SSO_ENABLED)
OIDC_OP_TOKEN_ENDPOINT = _sso_url("SSO_TOKEN_URL", needed=SSO_ENABLED)
OIDC_OP_USER_ENDPOINT = _sso_url("SSO_USERINFO_URL", needed=SSO_ENABLED)
# HS256 tokens are checked with the client secret, the others with the provider's keys.
OIDC_OP_JWKS_ENDPOINT = _sso_url(
    "SSO_JWKS_URL", needed=SSO_ENABLED and OIDC_RP_SIGN_ALGO != "HS256"
)
OIDC_RP_SCOPES = " ".join(env_str("SSO_SCOPES", "openid email").split())
if not {"openid", "email"} <= set(OIDC_RP_SCOPES.split()):
    raise ImproperlyConfigured(f"SSO_SCOPES={OIDC_RP_SCOPES!r} must include openid and email")
OIDC_TIMEOUT = env_int("SSO_TIMEOUT", 10, minimum=1)
OIDC_USE_PKCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "web:sso_callback"
LOGIN_REDIRECT_URL_FAILURE = "web:login"
AUTHENTICATION_BACKENDS.append("supporthub.web.sso.SingleSignOnBackend")  # idle while SSO is off


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_error": {"()": "supporthub.web.logs.ClientErrorWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # A refused request (403, 404, 400) is one line in the log, not a traceback.
    "loggers": {
        "django.request": {"filters": ["client_error"]},
        "django.security": {"filters": ["client_error"]},
        # Login throttling: each failure and lockout is a warning; axes' bookkeeping is noise.
        "axes": {"level": "WARNING"},
        # WeasyPrint logs each step of every PDF at INFO; its warnings (a missing font) stay.
        "weasyprint": {"level": "WARNING"},
    },
}
