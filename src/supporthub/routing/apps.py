from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "supporthub.routing"
    label = "routing"
    verbose_name = "Regions and on-call rotations"
