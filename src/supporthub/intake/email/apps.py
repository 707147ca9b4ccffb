from django.apps import AppConfig


class EmailIntakeConfig(AppConfig):
    name = "supporthub.intake.email"
    label = "intake_email"
    verbose_name = "Inbound email"

    def ready(self) -> None:
        from supporthub.intake.email import checks  # noqa: F401 - registers the system checks
