from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "supporthub.console"
    label = "console"
    verbose_name = "Agent console"
