from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "supporthub.staff"
    label = "staff"
    verbose_name = "Staff"
