from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "supporthub.inbox"
    verbose_name = "Inbound mail"
