from django.apps import AppConfig


class DevelopmentConfig(AppConfig):
    name = "supporthub.development"
    label = "development"
    verbose_name = "Development tickets"
