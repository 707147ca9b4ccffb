"""Top-level URL map."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Support Hub back office"
admin.site.site_title = "Support Hub"
admin.site.index_title = "Policies, organisations, support contacts and staff"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("supporthub.web.urls")),
]
