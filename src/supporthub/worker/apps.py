from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "supporthub.worker"
    label = "worker"
    verbose_name = "Background work"
