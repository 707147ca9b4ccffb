"""/api/: the REST API (OpenAPI 3 at /api/openapi.json, docs at /api/docs)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path

from supporthub.api.api import api
from supporthub.api.docs import docs_asset


def not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under /api/ answer in JSON too."""
    return JsonResponse(
        {"detail": f"No API operation at {request.path}; see /api/docs."}, status=404
    )


urlpatterns = [
    path("docs/assets/<str:name>", docs_asset, name="api-docs-asset"),
    path("", api.urls),
    re_path(r"", not_found),
]
