from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "supporthub.customers"
    label = "customers"
    verbose_name = "Customers"
