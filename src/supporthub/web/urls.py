"""Pages that are not one face's: the landing page, log in and out, health check."""

from django.contrib.auth import views as auth_views
from django.urls import path

from supporthub.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
