from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "supporthub.sla"
    label = "sla"
    verbose_name = "SLA clocks"
