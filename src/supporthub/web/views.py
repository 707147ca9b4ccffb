"""Landing page and health check."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from supporthub.web import selectors


@staff_member_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", selectors.home_overview())


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
