from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "supporthub.web"
    label = "web"
    verbose_name = "Web"
