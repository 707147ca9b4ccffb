"""Top-level URL map: the Support Hub for customers, the agent console, the REST API."""

from django.contrib import admin
from django.urls import include, path

from supporthub.web.passwords import PasswordResetView

admin.site.site_header = "Support Hub back office"
admin.site.site_title = "Support Hub"
admin.site.index_title = "Policies, organisations, support contacts and staff"

urlpatterns = [
    # The back office's login page offers a reset when this name exists: ours, by mail.
    path("admin/password_reset/", PasswordResetView.as_view(), name="admin_password_reset"),
    path("admin/", admin.site.urls),
    path("api/", include("supporthub.api.urls")),
    # The DSE engagement's check-ins, environment profile and monthly reports (console, Hub).
    path("", include("supporthub.dse.report_urls")),
    path("hub/", include("supporthub.portal.urls")),
    path("console/", include("supporthub.console.urls")),
    path("calendars/", include("supporthub.routing.urls")),
    path("intake/voicemail/", include("supporthub.intake.voicemail.urls")),
    path("development/", include("supporthub.development.urls")),
    path("", include("supporthub.web.urls")),
]
