"""The interactive API docs (Swagger UI) at /api/docs, served from this server only.

django-ninja renders its docs from a CDN unless "ninja" is an installed app; here the page
and its assets (the ones the installed django-ninja ships) come from our own origin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from ninja.openapi.docs import Swagger

if TYPE_CHECKING:
    from ninja import NinjaAPI

_ASSETS_DIR = Path(ninja.__file__).resolve().parent / "static" / "ninja"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.svg": "image/svg+xml",
    "favicon.png": "image/png",
}


class LocalSwagger(Swagger):
    """Swagger UI whose scripts and styles come from /api/docs/assets/, not a CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        assets = {
            name.replace("-", "_").replace(".", "_"): reverse("api-docs-asset", args=[name])
            + f"?v={ninja.__version__}"
            for name in _ASSETS
        }
        context = {
            "api": api,
            "swagger_settings": json.dumps(settings).replace("<", "\\u003c"),
            "assets": assets,
        }
        return render(request, "api/docs.html", context)


@require_safe
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One of the Swagger UI files django-ninja ships."""
    content_type = _ASSETS.get(name)
    if content_type is None:
        raise Http404("No such asset.")
    response = FileResponse((_ASSETS_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
