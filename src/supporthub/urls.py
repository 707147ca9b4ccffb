"""Top-level URL map: the Support Hub for customers, the agent console, the REST API."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Support Hub back office"
admin.site.site_title = "Support Hub"
admin.site.index_title = "Policies, organisations, support contacts and staff"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("supporthub.api.urls")),
    path("hub/", include("supporthub.portal.urls")),
    path("console/", include("supporthub.console.urls")),
    path("calendars/", include("supporthub.routing.urls")),
    path("intake/voicemail/", include("supporthub.intake.voicemail.urls")),
    path("", include("supporthub.web.urls")),
]
