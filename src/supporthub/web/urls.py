"""Pages that are not one app's: the landing page and health check."""

from django.urls import path

from supporthub.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
]
