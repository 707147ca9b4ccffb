"""The viewer of a page request, resolved once, and the decorators that guard the faces."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from supporthub.access import Viewer, viewer_for

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, Viewer, P], HttpResponseBase]
Guarded = Callable[Concatenate[HttpRequest, P], HttpResponseBase]


def request_viewer(request: HttpRequest) -> Viewer | None:
    """The viewer for this request (cached on it, so templates and views share one)."""
    cached: Any = getattr(request, "_supporthub_viewer", False)
    if cached is False:
        cached = viewer_for(request.user)
        request._supporthub_viewer = cached  # type: ignore[attr-defined]
    return cached  # type: ignore[no-any-return]


def _guard(allowed: Callable[[Viewer], bool], refusal: str) -> Callable[[View[P]], Guarded[P]]:
    def decorator(view: View[P]) -> Guarded[P]:
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            viewer = request_viewer(request)
            if viewer is None or not allowed(viewer):
                raise PermissionDenied(refusal)
            return view(request, viewer, *args, **kwargs)

        # functools.wraps types the result as the wrapped view's signature (with `viewer`).
        return cast(Guarded[P], wraps(view)(wrapper))

    return decorator


staff_view = _guard(lambda v: v.is_staff, "This page is for Support Hub staff.")
customer_view = _guard(
    lambda v: v.is_customer, "The Support Hub is for the people of customer organisations."
)


def viewer_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the viewer (None when anonymous, and on an error page rendered
    before the authentication middleware ran, such as the 400 for a foreign Host)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"viewer": None}
    return {"viewer": request_viewer(request)}
