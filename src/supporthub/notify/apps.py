from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "supporthub.notify"
    label = "notify"
    verbose_name = "Outbound mail"
