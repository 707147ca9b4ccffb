"""Errors look like the product: each says what happened in the product's words and offers
a way back; a refused request is one line in the log, not a traceback."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from supporthub.testing import factories as f


def _way_back(html: str) -> None:
    assert 'href="/"' in html and "Go to your start page" in html
    assert 'href="/static/web/site.css"' in html  # the product's own page, styled


@pytest.mark.django_db
def test_a_missing_page_is_explained_with_a_way_back(client: Client) -> None:
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here" in html
    assert "not yours to see" in html
    _way_back(html)


@pytest.mark.django_db
def test_another_organisations_ticket_is_the_same_404(client: Client) -> None:
    alice = f.staff(user__username="amy")  # staff with no organisation of her own
    client.force_login(alice.user)
    response = client.get("/console/tickets/999999/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


@pytest.mark.django_db
def test_a_refusal_says_why_and_logs_one_line_without_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(User.objects.create_user("nobody", password="x"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "You cannot do this with this login" in html
    assert "This login has no Support Hub role; ask an administrator." in html
    _way_back(html)
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == ["Forbidden (Permission denied): /"]
    assert records[0].exc_info is None and not records[0].exc_text


@pytest.mark.django_db
def test_a_bad_request_is_explained(client: Client) -> None:
    response = client.get("/", HTTP_HOST="elsewhere.example")  # not in ALLOWED_HOSTS
    html = response.content.decode()
    assert response.status_code == 400
    assert "The request could not be read" in html
    _way_back(html)


def test_a_server_error_page_needs_nothing_but_templates() -> None:
    """Django renders 500.html with no request context (the database may be what failed)."""
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "has been logged" in html
    _way_back(html)


def test_server_errors_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from supporthub.web.logs import ClientErrorWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), sys.exc_info())
    record.status_code = 500
    assert ClientErrorWithoutTraceback().filter(record)
    assert record.exc_info is not None
