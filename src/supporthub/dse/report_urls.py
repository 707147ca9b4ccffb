"""The engagement's rhythm and monthly case reports: console pages beside the engagement's
page (/console/engagements/<pk>/...), the Support Hub's under
/hub/designated-support-engineer/<pk>/; included at the root (one line in supporthub.urls)."""

from django.urls import path

from supporthub.dse import report_views as views

app_name = "dse_rhythm"

CONSOLE = "console/engagements/<int:pk>/"
HUB = "hub/designated-support-engineer/<int:pk>/"

urlpatterns = [
    path(f"{CONSOLE}check-ins/", views.console_check_ins, name="console_check_ins"),
    path(f"{CONSOLE}profile/", views.console_profile, name="console_profile"),
    path(f"{CONSOLE}reports/", views.console_reports, name="console_reports"),
    path(f"{CONSOLE}reports/<slug:month>/", views.console_report, name="console_report"),
    path(
        f"{CONSOLE}reports/<slug:month>/pdf/", views.console_report_pdf, name="console_report_pdf"
    ),
    path(
        f"{CONSOLE}reports/<slug:month>/csv/", views.console_report_csv, name="console_report_csv"
    ),
    path(f"{HUB}check-ins/", views.hub_check_ins, name="hub_check_ins"),
    path(f"{HUB}profile/", views.hub_profile, name="hub_profile"),
    path(f"{HUB}reports/", views.hub_reports, name="hub_reports"),
    path(f"{HUB}reports/<slug:month>/", views.hub_report, name="hub_report"),
    path(f"{HUB}reports/<slug:month>/pdf/", views.hub_report_pdf, name="hub_report_pdf"),
    path(f"{HUB}reports/<slug:month>/csv/", views.hub_report_csv, name="hub_report_csv"),
]
