"""Settings for the django-helpdesk peer of benchmarks/bench_api.py.

Follows django-helpdesk's install docs (the apps it needs, SITE_ID, its URLs at the root) with
the API on (`HELPDESK_API_ENABLED`, True by default in 2.6; the older docs' name for it,
`HELPDESK_ACTIVATE_API_ENDPOINT`, is no longer read). Production-like, as Support Hub is served
in the benchmark: DEBUG off, PostgreSQL with persistent connections (CONN_MAX_AGE=60, as ours),
the same middleware. Teams mode is off (it would need pinax-teams, an optional extra).

The API authenticates with DRF's TokenAuthentication, one of the classes its docs say to pick
through REST_FRAMEWORK: a token lookup per request, like Support Hub's bearer token. DRF's
default BasicAuthentication would run the password hasher (PBKDF2, 1,000,000 iterations) on
every request and measure that instead of ticket creation. Mail goes to Django's dummy
backend: every notification is still rendered from its database template, none is sent.

Environment: BENCH_PG_URL (server, default postgres://postgres@127.0.0.1:5432),
HELPDESK_BENCH_DB (database name, default supporthub_bench_helpdesk).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

_SERVER = urlsplit(os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))

SECRET_KEY = "helpdesk-bench-peer-not-a-secret-" + "x" * 32  # noqa: S105 - loopback benchmark
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("HELPDESK_BENCH_DB", "supporthub_bench_helpdesk"),
        "USER": unquote(_SERVER.username or "postgres"),
        "PASSWORD": unquote(_SERVER.password or ""),
        "HOST": _SERVER.hostname or "127.0.0.1",
        "PORT": str(_SERVER.port or 5432),
        "CONN_MAX_AGE": 60,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",  # helpdesk: the domain in e-mails
    "django.contrib.admin",  # helpdesk: admin/maintenance
    "django.contrib.humanize",  # helpdesk: elapsed times
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
SITE_ID = 1
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hdbench.urls"
WSGI_APPLICATION = "hdbench.wsgi.application"

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
            ],
        },
    },
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "/login/"

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@bench.example"
