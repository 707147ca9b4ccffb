"""The agent console: /console/."""

from django.urls import path

from supporthub.console import views
from supporthub.dse import views as dse_views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("queue/<slug:name>/", views.queue, name="queue"),
    path("queue/<slug:name>/", views.queue, name="queue_named"),
    path("hot-items/", views.hot_items, name="hot_items"),
    path("on-call/", views.on_call, name="on_call"),
    path("reports/sla/", views.sla_report, name="sla_report"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("tickets/<int:pk>/freshness/", views.ticket_freshness, name="ticket_freshness"),
    path(
        "tickets/<int:pk>/attachments/<int:attachment_id>/",
        views.attachment,
        name="attachment",
    ),
    path("tickets/<int:pk>/reply/", views.reply, name="reply"),
    path("tickets/<int:pk>/assign/", views.assign, name="assign"),
    path("tickets/<int:pk>/severity/", views.severity, name="severity"),
    path("tickets/<int:pk>/status/", views.status, name="status"),
    path("tickets/<int:pk>/escalate/", views.escalate, name="escalate"),
    path("tickets/<int:pk>/out-of-scope/", views.out_of_scope, name="out_of_scope"),
    # The Designated Support Engineer package (supporthub.dse).
    path("engagements/", dse_views.engagements, name="dse-engagements"),
    path("engagements/<int:pk>/", dse_views.engagement, name="dse-engagement"),
    path("engagements/<int:pk>/substitute/", dse_views.substitute, name="dse-substitute"),
    path("tickets/<int:pk>/time/", dse_views.log_time, name="dse-log-time"),
    path("voicemail/", views.voicemail_triage, name="voicemail_triage"),
    path("voicemail/<int:pk>/match/", views.voicemail_match, name="voicemail_match"),
    path("voicemail/<int:pk>/dismiss/", views.voicemail_dismiss, name="voicemail_dismiss"),
]
