"""The Support Hub, the customers' face: /hub/."""

from django.urls import path

from supporthub.dse import views as dse_views
from supporthub.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.tickets, name="tickets"),
    path("new/", views.new, name="new"),
    path("designated-support-engineer/", dse_views.hub, name="dse"),
    path("new/due/", views.due_preview, name="due_preview"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("tickets/<int:pk>/reply/", views.reply, name="reply"),
    path(
        "tickets/<int:pk>/attachments/<int:attachment_id>/",
        views.attachment,
        name="attachment",
    ),
]
