from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "supporthub.portal"
    label = "portal"
    verbose_name = "Support Hub (customers)"
