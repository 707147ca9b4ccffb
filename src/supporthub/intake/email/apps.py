from django.apps import AppConfig


class EmailIntakeConfig(AppConfig):
    name = "supporthub.intake.email"
    label = "intake_email"
    verbose_name = "Inbound email"
