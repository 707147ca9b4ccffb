from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "supporthub.api"
    label = "api"
    verbose_name = "REST API"
