"""Landing page, log in and out, health check."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from supporthub.web import selectors
from supporthub.web.viewers import request_viewer


def home(request: HttpRequest) -> HttpResponse:
    """Staff land on the overview, customers on their organisation's tickets."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    viewer = request_viewer(request)
    if viewer is not None and viewer.is_customer:
        return redirect("portal:tickets")
    if viewer is None or not viewer.is_staff:
        raise PermissionDenied("This login has no Support Hub role; ask an administrator.")
    return render(request, "web/home.html", selectors.home_overview(viewer))


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_label"] = settings.SSO_BUTTON_LABEL if settings.SSO_ENABLED else None
        return context


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
