from django.apps import AppConfig


class DseConfig(AppConfig):
    name = "supporthub.dse"
    label = "dse"
    verbose_name = "Designated Support Engineer"
