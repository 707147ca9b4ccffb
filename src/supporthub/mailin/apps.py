from django.apps import AppConfig


class MailinConfig(AppConfig):
    name = "supporthub.mailin"
    verbose_name = "Mail to ticket"
