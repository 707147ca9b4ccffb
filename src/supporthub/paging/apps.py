from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "supporthub.paging"
    verbose_name = "On-call paging"
