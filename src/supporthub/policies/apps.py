from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "supporthub.policies"
    label = "policies"
    verbose_name = "Policies"
