"""/development/: the trackers' webhooks and the console's link and unlink actions."""

from django.urls import path

from supporthub.development import console, views

app_name = "development"
urlpatterns = [
    path("webhooks/github/<slug:slug>/", views.github, name="github"),
    path("webhooks/jira/<slug:slug>/", views.jira, name="jira"),
    path("webhooks/generic/<slug:slug>/", views.generic, name="generic"),
    path("tickets/<int:pk>/link/", console.link, name="link"),
    path("tickets/<int:pk>/links/<int:link_id>/unlink/", console.unlink, name="unlink"),
]
