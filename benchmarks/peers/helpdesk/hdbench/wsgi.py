"""WSGI entry point for gunicorn: `gunicorn hdbench.wsgi` from benchmarks/peers/helpdesk."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdbench.settings")
application = get_wsgi_application()
